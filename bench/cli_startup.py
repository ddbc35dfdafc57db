"""How fast `kiebot --help` starts, beside a bare `python -c pass` measured in the same run.

Usage: uv run python bench/cli_startup.py [--runs 20]
Reports min / median / p95 wall seconds of each and the median ratio. The target (issue 6)
is under 0.5 s on the project machine; nothing asserts it.
"""

import argparse
import statistics
import subprocess
import sys
import time


def timed(command: list[str], runs: int) -> list[float]:
    subprocess.run(command, capture_output=True, check=True)  # warm the file cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    return sorted(samples)


def summary(name: str, samples: list[float]) -> str:
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return (
        f"{name:<18} min {samples[0]:.3f}s  median {statistics.median(samples):.3f}s  "
        f"p95 {p95:.3f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    help_samples = timed([sys.executable, "-m", "kiebot_cli", "--help"], runs)
    bare_samples = timed([sys.executable, "-c", "pass"], runs)
    print(summary("kiebot --help", help_samples))
    print(summary("python -c pass", bare_samples))
    ratio = statistics.median(help_samples) / statistics.median(bare_samples)
    print(f"median ratio       {ratio:.1f}x a bare interpreter")


if __name__ == "__main__":
    main()
