print("daily-brief: not built yet")
