"""The model: the pretrained backbone that turns a photo into a feature vector.

Owns the ONNX Runtime session of EfficientNet-Lite0 and its description (``backbone``), batch encoding of decoded
photos (``encode``), and the exports from the PyTorch weights: the backbone itself (``export_backbone``) and its
ImageNet classifier head (``export_head``). Torch is imported only inside the export functions. It may import
``images`` (to decode what it encodes) and the base modules.
"""
