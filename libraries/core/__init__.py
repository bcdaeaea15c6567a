"""The shared vocabulary every layer speaks: the model's values (directory and Google state, links), errors, run outcomes
and notice codes, and the stop flag. Imports nothing of this package.
"""
