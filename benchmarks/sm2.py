"""SM2 through the system OpenSSL 3: signs/s and verifies/s, one thread and two; leaks.

Compare with ``openssl speed sm2`` (CPU time, pre-hashed, no Z_A): the "per CPU-s"
column is the fair comparison on a shared machine.

Two threads show whether the binding releases the GIL: if it did not, two threads
would do no more work per second than one. Also a leak check: the process's RSS
before and after many operations (every OpenSSL object must be freed on every
path, including the failure paths exercised with bad signatures and envelopes).

Run: ``.venv/bin/python benchmarks/sm2.py [--seconds 3]``.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import threading
import time
from collections.abc import Callable

from gateway.errors import DecryptionError, InvalidSignature
from gateway.security.sm2 import SM2PrivateKey, library_version

MESSAGE = b'{"item_code":"ZJG-0001","applicant":{"name":"\xe5\xbc\xa0\xe4\xb8\x89"}}' * 30


def throughput(operation: Callable[[], object], threads: int, seconds: float) -> float:
    """Operations per second, summed over `threads` threads each looping for `seconds`."""
    counts = [0] * threads
    start = threading.Barrier(threads + 1)

    def worker(index: int) -> None:
        start.wait()
        deadline = time.perf_counter() + seconds
        done = 0
        while time.perf_counter() < deadline:
            operation()
            done += 1
        counts[index] = done

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    start.wait()
    for thread in pool:
        thread.join()
    return sum(counts) / seconds


def per_cpu_second(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second of this thread's CPU time (C time included: same thread)."""
    deadline = time.perf_counter() + seconds
    started = time.thread_time()
    done = 0
    while time.perf_counter() < deadline:
        operation()
        done += 1
    return done / (time.thread_time() - started)


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    args = parser.parse_args()
    key = SM2PrivateKey.generate()
    public = key.public_key()
    signature = key.sign(MESSAGE)
    envelope = public.encrypt(b"0123456789abcdef")
    print(f"{library_version()}; message {len(MESSAGE)} bytes; {args.seconds:g} s per figure")

    operations: dict[str, Callable[[], object]] = {
        "sign (SM3 with Z_A, DER)": lambda: key.sign(MESSAGE),
        "verify": lambda: public.verify(signature, MESSAGE),
        "envelope: encrypt 16-byte key": lambda: public.encrypt(b"0123456789abcdef"),
        "envelope: decrypt": lambda: key.decrypt(envelope),
    }
    print("wall-clock rates (1 and 2 threads), and per CPU-second of the measuring thread,")
    print("which a busy shared machine does not distort (as `openssl speed` counts)")
    print(f"{'operation':<32} {'1 thread':>12} {'2 threads':>12} {'per CPU-s':>20}")
    for label, operation in operations.items():
        one = throughput(operation, 1, args.seconds)
        two = throughput(operation, 2, args.seconds)
        cpu = per_cpu_second(operation, args.seconds)
        print(f"{label:<32} {one:>10,.0f}/s {two:>10,.0f}/s  (x{two / one:.2f}) {cpu:>8,.0f}/s")

    # Direct: one long foreign call (sign 64 MiB: SM3 over it) in a thread, while this
    # thread counts. Were the GIL held for the call (ctypes.PyDLL), this thread would
    # run only until the worker takes the GIL, a few ms: measured so, ~8,000 loops/s
    # over the call against ~180,000 with CDLL on the same busy machine.
    big = bytes(64 * 1024 * 1024)
    worker = threading.Thread(target=key.sign, args=(big,))
    counted = 0
    started = time.perf_counter()
    worker.start()
    while worker.is_alive():
        counted += 1
    took = time.perf_counter() - started
    print(
        f"while one {len(big) >> 20} MiB sign ran in C for {took:.2f} s, this thread ran "
        f"{counted / took:,.0f} Python loop iterations/s"
    )

    bad_signature = bytearray(signature)
    bad_signature[-1] ^= 1
    bad_envelope = bytearray(envelope)
    bad_envelope[-1] ^= 1

    def churn() -> None:
        fresh = SM2PrivateKey.generate()
        SM2PrivateKey.from_pem(fresh.to_pem(None))
        fresh.public_key().verify(fresh.sign(MESSAGE), MESSAGE)
        with contextlib.suppress(InvalidSignature):
            public.verify(bytes(bad_signature), MESSAGE)
        with contextlib.suppress(DecryptionError):
            key.decrypt(bytes(bad_envelope))

    for _ in range(1000):  # warm up allocator pools
        churn()
    before = rss_kib()
    rounds = 5000
    for _ in range(rounds):
        churn()
    after = rss_kib()
    print(f"leak check: RSS {before} KiB -> {after} KiB after {rounds:,} rounds of keygen, PEM,")
    print("            sign, verify, a refused signature and a refused envelope")


if __name__ == "__main__":
    main()
