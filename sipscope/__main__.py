"""`python -m sipscope` runs the command line (and is the frozen app's entry point)."""

import multiprocessing

from sipscope.cli import entry

if __name__ == "__main__":     # the reader process (spawn) imports this module too
    multiprocessing.freeze_support()    # a frozen build's reader process starts here
    entry()
