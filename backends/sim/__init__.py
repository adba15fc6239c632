"""The simulator backend: runs a program's typed IR in Python over the device arena layout."""
