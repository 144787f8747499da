print("linkcored")
