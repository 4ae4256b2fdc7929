"""Training side of rtstyle (PyTorch): transform network T, conditioner Λ, VGG losses, trainer."""
