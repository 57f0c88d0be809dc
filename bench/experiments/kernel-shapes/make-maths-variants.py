"""Harness 11 (not product code): edited copies of generated operator modules for run-maths-variants.sh.
Usage: python3 make-maths-variants.py SNAPSHOT OUTPUT EDIT[+EDIT...]
Edits (each checks that its pattern was found):
  cvt  - bf16 stores by the cvt.rn.bf16.f32 instruction (sm_80+) instead of integer round-to-nearest-even;
  ftz  - Sigmoid's and Tanh's fast forms with ex2.approx.ftz / rcp.approx.ftz (no denormal fix-ups: their exp feeds
         1 + e or e + 1 and their quotient is at most 2, so flushing cannot change the result);
  fdiv - SiTuGLU's divisions by its caps as __fdividef."""
import sys

src, out, edits = sys.argv[1], sys.argv[2], sys.argv[3].split("+")
text = open(src).read()


def replace(old, new, count=1):
    global text
    if text.count(old) < count:
        sys.exit(f"{src}: pattern not found for {edits}: {old[:60]!r}")
    text = text.replace(old, new)


for edit in edits:
    if edit == "cvt":
        replace("""    // Round to nearest even; NaN stays a (quiet) NaN with its sign.
    unsigned int u = __float_as_uint(f);
    mog_bf16 r;
""", """    mog_bf16 r;
#if __CUDA_ARCH__ >= 800
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r.bits) : "f"(f));
    return r;
#endif
    unsigned int u = __float_as_uint(f);
""")
    elif edit == "ftz":
        replace("template <bool mog_fast> __device__ __forceinline__ float mog_sigmoid(float x)",
                """__device__ __forceinline__ float mog_ex2_ftz(float x) { float r; asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x)); return r; }
__device__ __forceinline__ float mog_rcp_ftz(float x) { float r; asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x)); return r; }
template <bool mog_fast> __device__ __forceinline__ float mog_sigmoid(float x)""")
        replace("__fdividef(1.f, 1.f + __expf(-x))", "mog_rcp_ftz(1.f + mog_ex2_ftz(x * -1.44269504f))")
        replace("1.f - __fdividef(2.f, __expf(2.f * x) + 1.f)", "1.f - 2.f * mog_rcp_ftz(mog_ex2_ftz(x * 2.88539008f) + 1.f)")
    elif edit == "fdiv":
        replace("gate / gateCap", "__fdividef(gate, gateCap)")
        replace("linear / linearCap", "__fdividef(linear, linearCap)")
    else:
        sys.exit(f"unknown edit {edit}")
open(out, "w").write(text)
