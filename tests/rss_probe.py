"""Run the animation pipeline in-process and print the peak RSS (MB) at the end.

Used by tests/test_memory.py: python tests/rss_probe.py SOURCE DRIVING OUTDIR
"""

import resource
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from ppgan_fom import FirstOrderPredictor  # noqa: E402

if __name__ == "__main__":
    source, driving, outdir = sys.argv[1:4]
    small = HERE / "data" / "fom_small64"
    pred = FirstOrderPredictor(config=str(small / "fom_small64.yaml"),
                               weight_path=str(small / "fom_small64_random.pdparams"),
                               output=outdir, relative=True, adapt_scale=True, batch_size=8)
    pred.run(source, driving)
    print(f"PEAK_RSS_MB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")
