"""`python3 -m wharfbench` (what ./bench/run does)."""

from .main import main

main()
