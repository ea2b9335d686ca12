"""Learning: DistillHash and its research line, trained on the user's own photos.

Owns the training loop and its phases (``train``, ``train_phases``), the neighbourhood graph it distils
(``train_graph``), the check on held-out photos that decides whether learning helped (``train_check``), and the
export of a trained hash head to ONNX (``export_hash``). Torch is imported only here and in ``model``'s exports,
never on the search path. It may import ``codes`` and ``model`` and the base modules.
"""
