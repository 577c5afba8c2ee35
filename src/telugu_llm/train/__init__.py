"""Stage 4, train: model weights as safetensors resources, QLoRA training runs (one process or
torchrun), and the training summary."""
