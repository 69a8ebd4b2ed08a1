# Internal to build.sh: rewrites clang 14's draft relaxed-SIMD multiply-add opcodes to the final
# ones that V8 takes: f32x4.fma (fd af 01) -> f32x4.relaxed_madd (fd 85 02), and f32x4.fms
# (fd b0 01) -> f32x4.relaxed_nmadd (fd 86 02). Each count must equal the count of the
# instruction in clang's assembly of the same source, so that no other bytes are rewritten.
# Usage: python3 _patch_relaxed.py in.wasm out.wasm source.s
import sys

src, dst, asm = sys.argv[1:4]
data = open(src, "rb").read()
ops = [line.split()[0] for line in open(asm) if line.split()]
for draft, final, name in [
    (b"\xfd\xaf\x01", b"\xfd\x85\x02", "f32x4.fma"),
    (b"\xfd\xb0\x01", b"\xfd\x86\x02", "f32x4.fms"),
]:
    want = ops.count(name)
    found = data.count(draft)
    if found != want:
        sys.exit(f"error: {src}: {found} bytes look like {name}, the assembly has {want}")
    data = data.replace(draft, final)
open(dst, "wb").write(data)
