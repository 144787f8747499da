print("linkctl")
