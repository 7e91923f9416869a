print("assistant: not built yet")
