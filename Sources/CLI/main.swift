print("dialclip")
