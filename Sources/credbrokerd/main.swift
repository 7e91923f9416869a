print("credbrokerd")
