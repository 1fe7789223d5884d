"""Writes test fixtures (tiny random-weight GGUF models and NumPy reference
outputs) into the directory given as argv[1]."""
import os
import sys

os.makedirs(sys.argv[1], exist_ok=True)
