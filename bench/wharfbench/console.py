"""Progress lines on stdout, with the time of day."""

import time


def log(msg: str):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)
