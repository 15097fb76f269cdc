"""The model families, one module each (a family with several parts is a sub-package).

The shared machinery they use sits one level up in `nets/`; which families exist, and
which tab shows each, is declared once in `nets/registry.py`.
"""
