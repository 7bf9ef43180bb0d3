"""Submission bundles: a method's code, parameters and runs in one archive (`bench submit`),
checked and added to another checkout as *submitted* rows (`bench import`), docs/submitting.md.

A bundle is someone else's code. Nothing here imports or runs a submitted module: `bench import`
reads the archive into memory within stated limits (bench/submit/limits.py), refuses unsafe or
tampered members before anything is written, compares the runs' identities with what this
checkout computes for them from the files alone (bench/record), and stores the code for a person
to read. `bench verify` on the submitted slug is the one step that runs it. Torch-free.
"""
