"""A-LoL: advantage-based offline policy gradients for language models (Baheti et al., ICLR 2024)."""
