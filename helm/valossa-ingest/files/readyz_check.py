# `helm test`: GET $READYZ_URL until it answers 200 or $READYZ_TIMEOUT_S pass; runs in the
# service's own image (its Python, standard library only), so it needs no other image.
import os
import sys
import time
import urllib.error
import urllib.request

url = os.environ["READYZ_URL"]
deadline = time.monotonic() + float(os.environ.get("READYZ_TIMEOUT_S", "60"))
while True:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            print(f"{url}: {response.status} {response.read(500).decode(errors='replace')}")
            sys.exit(0)
    except urllib.error.HTTPError as error:
        last = f"{error.code} {error.read(500).decode(errors='replace')}"
    except OSError as error:
        last = str(error)
    if time.monotonic() >= deadline:
        print(f"{url} is not ready: {last}", file=sys.stderr)
        sys.exit(1)
    time.sleep(2)
