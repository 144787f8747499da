print("mediation-bench: not yet")
