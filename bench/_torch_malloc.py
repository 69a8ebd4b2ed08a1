"""Internal to the PyTorch harnesses here (torch_train_step.py, torch_infer.py, torch_serve.py):
glibc's allocator set to keep freed memory, so that PyTorch reuses its tensors' pages.

With glibc's defaults, every tensor over 128 KiB comes from a fresh mmap() whose pages fault in
and are zeroed again each time. On our 2-core VM that made PyTorch 2-3x slower in most training
runs (compact-cnn 45-60 ms a step against 14-15; ResNet-18 at 32 px 860-980 against 380-445;
LeNet 15-21 against 5-7) and its batched MobileNetV2 inference 16x slower (6.1 img/s against
96.4). Timings beside ours use PyTorch at its best: `--malloc reuse`, the harnesses' default (the
mmap and trim thresholds at 1 GiB, as MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ would set
them). `--malloc glibc` keeps the defaults, which give PyTorch its lowest peak RSS (ResNet-18 at
224 px, batch 8: 708 MB against 764): the peak-RSS comparisons use it. Call before importing
torch.
"""
import ctypes

CHOICES = ["reuse", "glibc"]
HELP = "reuse: keep freed memory for the next step (timings); glibc: its defaults (peak RSS)"


def set_malloc(mode):
    """Applies `mode` (one of CHOICES) to this process's glibc allocator."""
    if mode != "reuse":
        return
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3
    if not (libc.mallopt(m_mmap_threshold, 1 << 30) and libc.mallopt(m_trim_threshold, 1 << 30)):
        raise SystemExit("mallopt refused the thresholds: run with --malloc glibc")
