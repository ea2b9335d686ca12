"""Codes: binary codes of photos and the search over them.

Owns the training-free coders and the Hamming maths (``binary``: ITQ, PCA-sign, LSH, popcount, the asymmetric and
blended scores), the learned ONNX hash coder (``hashcoder``), the persisted faiss index and its file format
(``codeindex``, ``cidx``), neighbourhood smoothing of database codes (``neighbourhood``) and the app's search and
ranking (``search``: shortlist, order, percentages; the bench and the learning check rank with it too). It
imports only the base modules; the catalog and feature cache it reads are handed in.
"""
