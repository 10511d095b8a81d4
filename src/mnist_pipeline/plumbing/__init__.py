"""Writing outputs whole, reading inputs safely, and model files (skops and the model card)."""
