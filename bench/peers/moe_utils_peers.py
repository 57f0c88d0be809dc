#!/usr/bin/env python3
"""PyTorch peers of MoeOpGen's operators: the reference module's functions, timed on a CUDA GPU.

The reference is NeMo AutoModel's `nemo_automodel/components/moe/megatron/moe_utils.py`. Its source is not in
this repository: the functions below are written from shared/reference/moe_utils-semantics.md (section numbers
in comments), keeping its rounding points and its use of `@torch.compile` on every helper. The autograd Functions
and the `*_impl` entry points are plain Python calling those helpers, as in the reference (the clamp of
`weighted_bias_quick_geglu_impl` runs outside the Function, so autograd supplies its gradient).

Each case is timed twice: helpers under `torch.compile` ("compile", how the reference runs) and the same code
eagerly ("eager"). Timing uses CUDA events around each repeat (after warm-up) and reports the median.

Usage:
  python3 moe_utils_peers.py OUT.json [--quick] [--static] [--max-seconds S] [--models a,b] [--dtypes bf16,fp32]
  python3 moe_utils_peers.py --smoke        # CPU, tiny shapes: checks the maths against direct formulas

Before timing, the same checks run on the GPU in float64 for both forms; a failure is listed in the report's
check_failures and makes the exit status 1 (timing still goes on). Results are rewritten to OUT.json after each
model and dtype, so a run cut short keeps what it measured; bf16 runs first for every model.
"""

import argparse
import datetime
import json
import math
import os
import statistics
import sys
import time
import types

import torch
import torch.nn.functional as F

DEVICE = "cuda"  # where the timings run (a module constant so that a dry run can move them to the CPU)
ALPHA = 1.702  # quick-GELU's constant; the reference's backward hardcodes it (semantics §1.6)

# rows = routed token rows fed to the expert activation (tokens × top-k); hidden = H, the activation's output
# width (its input is 2H); permute_hidden = the model dimension the dispatcher permutes. Mixtral's and GPT-OSS's
# permute width is their model dimension (4096, 2880).
MODELS = {
    "gpt-oss-20b": dict(rows=32768, hidden=2880, permute_hidden=2880, experts=32, topk=4),
    "mixtral-8x7b": dict(rows=16384, hidden=14336, permute_hidden=4096, experts=8, topk=2),
    "deepseek-v3": dict(rows=65536, hidden=2048, permute_hidden=7168, experts=256, topk=8),
}
DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
GPT_OSS_CLAMP, GPT_OSS_OFFSET = 7.0, 1.0  # quick-GEGLU as GPT-OSS uses it (semantics §2.3)

BYTE_MODEL = {
    "meaning": "the least DRAM traffic of one fused kernel doing the op; GB/s = bytes / time (effective bandwidth)",
    "symbols": "R rows, H hidden (input 2H), E element size of dtype, weights and probs fp32 (4 bytes); "
               "T tokens, P permute hidden, X experts, N = T*topk routed rows",
    "gated fwd": "read y R*2H*E (+ weights R*4) (+ bias 2H*E) + write out R*H*E",
    "gated bwd": "read grad R*H*E + y R*2H*E (+ weights R*4) (+ bias 2H*E) + write dy R*2H*E (+ dweights R*4); "
                 "the bias gradient the reference returns is dy itself",
    "unary fwd": "read R*H*E + write R*H*E",
    "fwd+bwd": "fwd + bwd, plus the bias gradient write 2H*E; fp8 store: fwd also writes y as E4M3 (R*2H*1) and "
               "bwd reads that instead of y; the clamp adds nothing (a fused kernel clamps in registers)",
    "permute fwd": "read tokens T*P*E + routing map T*X*1 (+ probs T*X*4) + write N*P*E + indices N*8 (+ probs N*4)",
    "permute bwd": "read grad N*P*E + indices N*8 (+ probs grad N*4) + write dtokens T*P*E (+ dprobs T*X*4)",
    "unpermute fwd": "read N*P*E + indices N*8 (+ probs T*X*4 + map T*X*1) + write T*P*E",
    "unpermute bwd": "read grad T*P*E + indices N*8 + write N*P*E",
}
# (name, op) of a row -> (family, variant): the row's "case" key is "family variant op", the key the .NET bench
# (bench/MoeOpGen.Bench) gives its rows too, so bench/compare.py can set the two side by side. "op" may be
# "fwd+bwd leaf"; its case then ends in "fwd+bwd leaf" on both sides.
CASES = {
    "swiglu": ("swiglu", "plain"), "swiglu_back": ("swiglu", "plain"),
    "weighted_swiglu": ("swiglu", "weighted"), "weighted_swiglu_back": ("swiglu", "weighted"),
    "quick_geglu": ("quick_geglu", "plain"), "quick_geglu_back": ("quick_geglu", "plain"),
    "weighted_quick_geglu": ("quick_geglu", "weighted"), "weighted_quick_geglu_back": ("quick_geglu", "weighted"),
    "weighted_bias_quick_geglu": ("quick_geglu", "weighted+bias"),
    "weighted_bias_quick_geglu_back": ("quick_geglu", "weighted+bias"),
    "geglu": ("geglu", "plain"), "geglu_back": ("geglu", "plain"),
    "weighted_geglu": ("geglu", "weighted"), "weighted_geglu_back": ("geglu", "weighted"),
    "quick_gelu": ("quick_gelu", "plain"),
    "weighted_bias_swiglu_impl": ("swiglu", "weighted"),
    "weighted_bias_swiglu_impl fp8_input_store": ("swiglu", "weighted+fp8"),
    "weighted_bias_quick_geglu_impl bias clamp=7 offset=1": ("quick_geglu", "weighted+bias+clamp"),
    "weighted_bias_quick_geglu_impl bias clamp=7 offset=1 fp8_input_store": ("quick_geglu", "weighted+bias+clamp+fp8"),
    "weighted_bias_geglu_impl": ("geglu", "weighted"),
    "permute": ("permute", "probs"),  # as the dispatcher calls it
    "unpermute": ("unpermute", "plain"),
    "unpermute probs": ("unpermute", "probs"),
}


def case_of(name, op):
    """The (variant, case) keys of a row; unknown names keep their own name as the family."""
    family, variant = CASES.get(name, (name, "plain"))
    return variant, f"{family} {variant} {op}"


PEAK_MEM_MODEL = "peak_mem_bytes: torch.cuda.max_memory_allocated() after reset_peak_memory_stats(), minus " \
                 "memory_allocated() before the op (inputs and upstream gradients already allocated, no .grad held): " \
                 "the op's own outputs, saved tensors, gradients and temporaries. peak_reserved_bytes: the driver's " \
                 "free memory before minus after one step, after torch.cuda.empty_cache(), the step's results held " \
                 "(the .NET bench's method)"


# ---------------------------------------------------------------------------------------------------------------
# The reference functions
# ---------------------------------------------------------------------------------------------------------------

def build_reference(compiled):
    """Returns the reference module's functions; `compiled` decorates each helper with plain @torch.compile."""
    jit = torch.compile if compiled else (lambda fn: fn)
    fp8 = getattr(torch, "float8_e4m3fn", None)
    ns = types.SimpleNamespace()

    # §1.3 / §1.4 SwiGLU
    @jit
    def swiglu(y):
        y_1, y_2 = torch.chunk(y, 2, -1)
        return F.silu(y_1) * y_2

    @jit
    def weighted_swiglu(y, weights):
        dtype = y.dtype
        res = swiglu(y) * weights
        return res.to(dtype)

    @jit
    def swiglu_back(g, y):
        y_1, y_2 = torch.chunk(y, 2, -1)
        return torch.cat(
            (g * torch.sigmoid(y_1) * (1 + y_1 * (1 - torch.sigmoid(y_1))) * y_2, g * F.silu(y_1)), -1)

    @jit
    def weighted_swiglu_back(g, y, weights):
        input_dtype, w_dtype = y.dtype, weights.dtype
        input_grad = swiglu_back(g * weights, y)
        weights_grad = torch.sum(swiglu(y) * g.to(w_dtype), dim=-1, keepdim=True)  # g cast to w's dtype
        return input_grad.to(input_dtype), weights_grad.to(w_dtype)

    # §1.6 - §1.8 quick-GELU family (alpha is fixed at 1.702 wherever the reference fixes it)
    @jit
    def quick_gelu(y, alpha=ALPHA):
        return y * torch.sigmoid(alpha * y)

    @jit
    def quick_geglu(y, linear_offset=0.0):
        y_1, y_2 = torch.chunk(y, 2, -1)
        return quick_gelu(y_1) * (y_2 + linear_offset)

    @jit
    def weighted_quick_geglu(y, weights, linear_offset=0.0):
        dtype = y.dtype
        res = quick_geglu(y, linear_offset) * weights
        return res.to(dtype)

    @jit
    def quick_geglu_back(g, y, linear_offset=0.0):
        y_1, y_2 = torch.chunk(y, 2, -1)
        sigmoid_out = torch.sigmoid(1.702 * y_1)
        dy_1 = g * sigmoid_out * (1 + 1.702 * y_1 * (1 - sigmoid_out)) * (y_2 + linear_offset)
        dy_2 = g * y_1 * sigmoid_out
        return torch.cat((dy_1, dy_2), -1)

    @jit
    def weighted_quick_geglu_back(g, y, weights, linear_offset=0.0):
        input_dtype, w_dtype = y.dtype, weights.dtype
        input_grad = quick_geglu_back(g * weights, y, linear_offset)
        weights_grad = torch.sum(quick_geglu(y, linear_offset) * g.to(w_dtype), dim=-1, keepdim=True)
        return input_grad.to(input_dtype), weights_grad.to(w_dtype)

    @jit
    def weighted_bias_quick_geglu(y, bias, weights, linear_offset=0.0):
        dtype = y.dtype
        res = quick_geglu(y + bias, linear_offset) * weights
        return res.to(dtype)

    @jit
    def weighted_bias_quick_geglu_back(g, y, bias, weights, linear_offset=0.0):
        input_dtype, w_dtype = y.dtype, weights.dtype
        x = y + bias
        input_grad = quick_geglu_back(g * weights, x, linear_offset)
        weights_grad = torch.sum(quick_geglu(x, linear_offset) * g.to(w_dtype), dim=-1, keepdim=True)
        # The bias gradient is the full [N, 2H] input gradient; autograd sums it to the bias's shape.
        return input_grad.to(input_dtype), input_grad.to(input_dtype), weights_grad.to(w_dtype)

    # §1.9 (end) tanh-GEGLU family, mirroring the SwiGLU one
    @jit
    def geglu(y):
        y_1, y_2 = torch.chunk(y, 2, -1)
        return (y_1 * 0.5 * (1.0 + torch.tanh(0.79788456 * y_1 * (1 + 0.044715 * y_1 * y_1)))) * y_2

    @jit
    def geglu_back(g, y):
        y_1, y_2 = torch.chunk(y, 2, -1)
        tanh_out = torch.tanh(0.79788456 * y_1 * (1 + 0.044715 * y_1 * y_1))
        ff = 0.5 * y_1 * ((1 - tanh_out * tanh_out) * (0.79788456 + 0.1070322243 * y_1 * y_1)) \
            + 0.5 * (1 + tanh_out)
        return torch.cat(((g * y_2) * ff, g * (y_1 * 0.5 * (1.0 + tanh_out))), -1)

    @jit
    def weighted_geglu(y, weights):
        dtype = y.dtype
        res = geglu(y) * weights
        return res.to(dtype)

    @jit
    def weighted_geglu_back(g, y, weights):
        input_dtype, w_dtype = y.dtype, weights.dtype
        input_grad = geglu_back(g * weights, y)
        weights_grad = torch.sum(geglu(y) * g.to(w_dtype), dim=-1, keepdim=True)
        return input_grad.to(input_dtype), weights_grad.to(w_dtype)

    # §1.5 / §1.9 autograd Functions: forward on the full-precision input, backward on the saved (maybe E4M3) copy
    def store(input, fp8_input_store):
        if not fp8_input_store:
            return input
        if fp8 is None:
            raise RuntimeError("fp8_input_store needs torch.float8_e4m3fn (PyTorch >= 2.1)")
        return input.to(fp8)

    def make_weighted_function(fwd, back):
        class WeightedGluFunction(torch.autograd.Function):
            @staticmethod
            def forward(ctx, input, weights, fp8_input_store):
                ctx.save_for_backward(store(input, fp8_input_store), weights)
                ctx.ori_input_dtype, ctx.fp8_input_store = input.dtype, fp8_input_store
                return fwd(input, weights)

            @staticmethod
            def backward(ctx, grad_output):
                input, weights = ctx.saved_tensors
                if ctx.fp8_input_store:
                    input = input.to(ctx.ori_input_dtype)
                tmp, wgrad = back(grad_output, input, weights)
                return tmp, wgrad, None
        return WeightedGluFunction

    ns.WeightedSwiGLUFunction = make_weighted_function(weighted_swiglu, weighted_swiglu_back)
    ns.WeightedGEGLUFunction = make_weighted_function(weighted_geglu, weighted_geglu_back)

    class WeightedQuickGeGLUFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input, weights, fp8_input_store, linear_offset):
            ctx.save_for_backward(store(input, fp8_input_store), weights, linear_offset)
            ctx.ori_input_dtype, ctx.fp8_input_store = input.dtype, fp8_input_store
            return weighted_quick_geglu(input, weights, linear_offset)

        @staticmethod
        def backward(ctx, grad_output):
            input, weights, linear_offset = ctx.saved_tensors
            if ctx.fp8_input_store:
                input = input.to(ctx.ori_input_dtype)
            tmp, wgrad = weighted_quick_geglu_back(grad_output, input, weights, linear_offset)
            return tmp, wgrad, None, None

    class WeightedBiasQuickGeGLUFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input, bias, weights, fp8_input_store, linear_offset):
            ctx.save_for_backward(store(input, fp8_input_store), bias, weights, linear_offset)
            ctx.ori_input_dtype, ctx.fp8_input_store = input.dtype, fp8_input_store
            return weighted_bias_quick_geglu(input, bias, weights, linear_offset)

        @staticmethod
        def backward(ctx, grad_output):
            input, bias, weights, linear_offset = ctx.saved_tensors
            if ctx.fp8_input_store:
                input = input.to(ctx.ori_input_dtype)
            tmp, bias_grad, wgrad = weighted_bias_quick_geglu_back(grad_output, input, bias, weights, linear_offset)
            return tmp, bias_grad, wgrad, None, None

    def impl_2d_or_3d(function, input, *args):
        # §1.5 shape handling: 2-D as is, 3-D through [-1, last] and back to [s0, s1, -1].
        ori_shape = input.shape
        assert len(ori_shape) in (2, 3)
        output = function(input.view(-1, ori_shape[-1]), *args)
        return output if len(ori_shape) == 2 else output.view(ori_shape[0], ori_shape[1], -1)

    def weighted_bias_swiglu_impl(input, weights, fp8_input_store=False):
        return impl_2d_or_3d(ns.WeightedSwiGLUFunction.apply, input, weights, fp8_input_store)

    def weighted_bias_geglu_impl(input, weights, fp8_input_store=False):
        return impl_2d_or_3d(ns.WeightedGEGLUFunction.apply, input, weights, fp8_input_store)

    def weighted_bias_quick_geglu_impl(input, bias, weights, fp8_input_store=False, linear_offset=0.0,
                                       clamp_value=None, alpha=ALPHA):
        del alpha  # accepted and ignored, as by the reference (§1.9)
        ori_shape = input.shape
        assert len(ori_shape) in (2, 3)
        if clamp_value is not None:  # 0.0 clamps too; plain torch ops, so autograd gives the clamp's gradient
            x_glu, x_linear = input.chunk(2, -1)
            input = torch.cat((x_glu.clamp(min=None, max=clamp_value),
                               x_linear.clamp(min=-clamp_value, max=clamp_value)), -1)
        input = input.view(-1, ori_shape[-1])
        linear_offset = torch.tensor(linear_offset, dtype=input.dtype)
        if bias is not None:
            output = WeightedBiasQuickGeGLUFunction.apply(input, bias, weights, fp8_input_store, linear_offset)
        else:
            output = WeightedQuickGeGLUFunction.apply(input, weights, fp8_input_store, linear_offset)
        return output if len(ori_shape) == 2 else output.view(ori_shape[0], ori_shape[1], -1)

    # §1.1 / §1.2 permute and unpermute, non-fused paths (the semantics do not record whether the reference
    # decorates these two; both forms are timed)
    @jit
    def permute(tokens, routing_map, probs=None, num_out_tokens=None, drop_and_pad=False):
        num_tokens = tokens.shape[0]
        num_experts = routing_map.shape[1]
        permuted_probs = None
        if drop_and_pad and num_out_tokens is not None:
            capacity = num_out_tokens // num_experts
            assert not routing_map.requires_grad
            routing_map = routing_map.to(dtype=torch.int8).T.contiguous()
            sorted_indices = routing_map.argsort(dim=-1, descending=True, stable=True)[:, :capacity].contiguous()
            sorted_indices = sorted_indices.view(-1)
            if probs is not None:
                probs_t_1d = probs.T.contiguous().view(-1)
                indices_dim0 = torch.arange(num_experts, device=routing_map.device).unsqueeze(-1)
                indices_dim1 = sorted_indices.view(num_experts, capacity)
                permuted_probs = probs_t_1d.index_select(0, (indices_dim0 * num_tokens + indices_dim1).view(-1))
        else:
            routing_map = routing_map.bool().T.contiguous()
            token_indices = torch.arange(num_tokens, device=routing_map.device).unsqueeze(0).expand(num_experts, -1)
            sorted_indices = token_indices.masked_select(routing_map)
            if probs is not None:
                permuted_probs = probs.T.contiguous().masked_select(routing_map)
        permuted_input = tokens.index_select(0, sorted_indices)
        return permuted_input, permuted_probs, sorted_indices

    @jit
    def unpermute(permuted_tokens, sorted_indices, restore_shape, probs=None, routing_map=None, drop_and_pad=False):
        input_dtype = permuted_tokens.dtype
        _, hidden = restore_shape
        if probs is not None:
            assert routing_map is not None, "Mask must be provided to permute the probs."
            if drop_and_pad:
                num_experts = routing_map.size(1)
                capacity = sorted_indices.size(0) // num_experts
                num_unpermuted_tokens = probs.size(0)
                probs_t_1d = probs.T.contiguous().view(-1)
                indices_dim0 = torch.arange(num_experts, device=routing_map.device).unsqueeze(-1)
                indices_dim1 = sorted_indices.view(num_experts, capacity)
                permuted_probs = probs_t_1d.index_select(
                    0, (indices_dim0 * num_unpermuted_tokens + indices_dim1).view(-1))
            else:
                permuted_probs = probs.T.contiguous().masked_select(routing_map.T.contiguous())
            permuted_tokens = permuted_tokens * permuted_probs.unsqueeze(-1)  # type promotion, as the reference
        output_tokens = torch.zeros(restore_shape, dtype=permuted_tokens.dtype, device=permuted_tokens.device)
        output_tokens.scatter_add_(0, sorted_indices.unsqueeze(1).expand(-1, hidden), permuted_tokens)
        return output_tokens.to(dtype=input_dtype)

    for fn in (swiglu, weighted_swiglu, swiglu_back, weighted_swiglu_back, weighted_bias_swiglu_impl,
               quick_gelu, quick_geglu, weighted_quick_geglu, quick_geglu_back, weighted_quick_geglu_back,
               weighted_bias_quick_geglu, weighted_bias_quick_geglu_back, weighted_bias_quick_geglu_impl,
               geglu, geglu_back, weighted_geglu, weighted_geglu_back, weighted_bias_geglu_impl,
               permute, unpermute):
        setattr(ns, getattr(fn, "__name__"), fn)
    ns.WeightedQuickGeGLUFunction = WeightedQuickGeGLUFunction
    ns.WeightedBiasQuickGeGLUFunction = WeightedBiasQuickGeGLUFunction
    return ns


# ---------------------------------------------------------------------------------------------------------------
# Checks against direct formulas (float64; backward through autograd of the direct forward)
# ---------------------------------------------------------------------------------------------------------------

def direct_silu_glu(a, b, offset=0.0):
    return a / (1 + torch.exp(-a)) * b


def direct_quick_glu(a, b, offset=0.0):
    return a / (1 + torch.exp(-ALPHA * a)) * (b + offset)


def direct_tanh_glu(a, b, offset=0.0):
    return 0.5 * a * (1 + torch.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3))) * b


def direct_gated(fn, y, weights=None, bias=None, offset=0.0, clamp=None):
    """Forward of a gated op written independently of the reference: clamp before bias, weights last."""
    h = y.shape[-1] // 2
    a, b = y[..., :h], y[..., h:]
    if clamp is not None:  # torch.where: gradient 0 past the bound, passes at it
        a = torch.where(a > clamp, torch.full_like(a, clamp), a)
        b = torch.where(b > clamp, torch.full_like(b, clamp), torch.where(b < -clamp, torch.full_like(b, -clamp), b))
    if bias is not None:
        a, b = a + bias[:h], b + bias[h:]
    out = fn(a, b, offset)
    return out if weights is None else out * weights


def direct_grads(fn, y, g, weights=None, bias=None, offset=0.0, clamp=None):
    leaves = [t.detach().clone().requires_grad_(True) if t is not None else None for t in (y, weights, bias)]
    out = direct_gated(fn, leaves[0], leaves[1], leaves[2], offset, clamp)
    wanted = [t for t in leaves if t is not None]
    grads = iter(torch.autograd.grad((out * g).sum(), wanted))
    return [next(grads) if t is not None else None for t in leaves]


class Checker:
    def __init__(self, label):
        self.label, self.failures, self.count = label, [], 0

    def close(self, name, actual, expected, rtol=1e-6, atol=1e-9):
        self.count += 1
        actual, expected = actual.detach().double().cpu(), expected.detach().double().cpu()
        if actual.shape != expected.shape:
            self.failures.append(f"{name}: shape {tuple(actual.shape)} != {tuple(expected.shape)}")
        elif not torch.allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True):
            err = (actual - expected).abs().max().item()
            self.failures.append(f"{name}: max |error| {err:.3g}")

    def guard(self, group, check):
        try:
            check()
        except Exception as exc:
            self.count += 1
            self.failures.append(f"{group}: raised {type(exc).__name__}: {str(exc)[:300]}")

    def equal(self, name, actual, expected):
        self.count += 1
        if not torch.equal(actual.detach().cpu(), expected.detach().cpu()):
            self.failures.append(f"{name}: not equal")


def check_reference(ref, device, label):
    """Every function of `ref` on tiny float64 inputs against the direct formulas; returns a Checker."""
    c = Checker(label)
    gen = torch.Generator().manual_seed(7)

    def rnd(*shape, scale=2.0):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).to(device)

    n, h = 6, 8
    y, g, w, bias = rnd(n, 2 * h), rnd(n, h), rnd(n, 1, scale=1.0), rnd(2 * h, scale=0.5)
    y[0, 0], y[1, h] = GPT_OSS_CLAMP, -GPT_OSS_CLAMP  # on the clamp bounds: the gradient passes there
    y[2, 1], y[3, h + 1], y[5, h + 3] = GPT_OSS_CLAMP + 2, -GPT_OSS_CLAMP - 1, GPT_OSS_CLAMP + 1.5  # past: it does not
    y[4, 2] = -GPT_OSS_CLAMP - 3  # the gate is clamped from above only
    # Each group runs even if another raised (say, a compile error), so one report lists every problem.
    c.guard("activations", lambda: check_activations(ref, c, y, g, w, bias))
    c.guard("entry points", lambda: check_entry_points(ref, c, y, g, w, bias))
    if getattr(torch, "float8_e4m3fn", None) is None:
        print(f"[{label}] fp8 checks skipped: this PyTorch has no float8_e4m3fn", flush=True)
    else:
        c.guard("fp8 input store", lambda: check_fp8_store(ref, c, y, g, w, bias))
    c.guard("routing", lambda: check_routing(ref, c, device, gen))
    return c


def check_activations(ref, c, y, g, w, bias):
    families = [
        ("swiglu", direct_silu_glu, ref.swiglu, ref.swiglu_back, ref.weighted_swiglu, ref.weighted_swiglu_back),
        ("geglu", direct_tanh_glu, ref.geglu, ref.geglu_back, ref.weighted_geglu, ref.weighted_geglu_back),
        ("quick_geglu", direct_quick_glu, lambda t: ref.quick_geglu(t, GPT_OSS_OFFSET),
         lambda gg, t: ref.quick_geglu_back(gg, t, GPT_OSS_OFFSET),
         lambda t, ww: ref.weighted_quick_geglu(t, ww, GPT_OSS_OFFSET),
         lambda gg, t, ww: ref.weighted_quick_geglu_back(gg, t, ww, GPT_OSS_OFFSET)),
    ]
    for name, fn, fwd, back, wfwd, wback in families:
        off = GPT_OSS_OFFSET if name == "quick_geglu" else 0.0
        dy, _, _ = direct_grads(fn, y, g, offset=off)
        c.close(f"{name} fwd", fwd(y), direct_gated(fn, y, offset=off))
        c.close(f"{name}_back", back(g, y), dy)
        dyw, dw, _ = direct_grads(fn, y, g, weights=w, offset=off)
        c.close(f"weighted_{name} fwd", wfwd(y, w), direct_gated(fn, y, weights=w, offset=off))
        got_dy, got_dw = wback(g, y, w)
        c.close(f"weighted_{name}_back dy", got_dy, dyw)
        c.close(f"weighted_{name}_back dw", got_dw, dw)

    c.close("quick_gelu", ref.quick_gelu(y), y / (1 + torch.exp(-ALPHA * y)))
    c.close("quick_gelu alpha=1", ref.quick_gelu(y, 1.0), y / (1 + torch.exp(-y)))

    dyb, dwb, dbias = direct_grads(direct_quick_glu, y, g, weights=w, bias=bias, offset=GPT_OSS_OFFSET)
    c.close("weighted_bias_quick_geglu fwd", ref.weighted_bias_quick_geglu(y, bias, w, GPT_OSS_OFFSET),
            direct_gated(direct_quick_glu, y, weights=w, bias=bias, offset=GPT_OSS_OFFSET))
    got_dy, got_dbias, got_dw = ref.weighted_bias_quick_geglu_back(g, y, bias, w, GPT_OSS_OFFSET)
    c.close("weighted_bias_quick_geglu_back dy", got_dy, dyb)
    c.close("weighted_bias_quick_geglu_back dbias (summed)", got_dbias.sum(0), dbias)
    c.close("weighted_bias_quick_geglu_back dw", got_dw, dwb)


def through_autograd(call, inputs, grad):
    """call(*leaf copies of inputs).backward(grad); returns the output and the leaves' gradients."""
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = call(*leaves)
    out.backward(grad)
    return out, [t.grad for t in leaves]


def check_entry_points(ref, c, y, g, w, bias):
    """The autograd entry points, 2-D and 3-D, with and without bias and clamp."""
    h = g.shape[-1]
    impls = [
        ("weighted_bias_swiglu_impl", direct_silu_glu, lambda x, ww, b: ref.weighted_bias_swiglu_impl(x, ww), False,
         None, 0.0),
        ("weighted_bias_geglu_impl", direct_tanh_glu, lambda x, ww, b: ref.weighted_bias_geglu_impl(x, ww), False,
         None, 0.0),
        ("weighted_bias_quick_geglu_impl bias clamp", direct_quick_glu,
         lambda x, ww, b: ref.weighted_bias_quick_geglu_impl(x, b, ww, False, GPT_OSS_OFFSET, GPT_OSS_CLAMP),
         True, GPT_OSS_CLAMP, GPT_OSS_OFFSET),
        ("weighted_bias_quick_geglu_impl clamp=0", direct_quick_glu,
         lambda x, ww, b: ref.weighted_bias_quick_geglu_impl(x, None, ww, False, 0.0, 0.0), False, 0.0, 0.0),
    ]
    for name, fn, call, with_bias, clamp, off in impls:
        b_in = bias if with_bias else None
        out, (gy, gw, gb) = through_autograd(call, [y, w, bias], g)
        c.close(f"{name} fwd", out, direct_gated(fn, y, w, b_in, off, clamp))
        ey, ew, eb = direct_grads(fn, y, g, weights=w, bias=b_in, offset=off, clamp=clamp)
        c.close(f"{name} dinput", gy, ey)
        c.close(f"{name} dweights", gw, ew)
        if with_bias:
            c.close(f"{name} dbias", gb, eb)
    y3, g3 = y.view(2, 3, 2 * h), g.view(2, 3, h)
    out3, (gy3, _, _) = through_autograd(lambda x, ww, b: ref.weighted_bias_swiglu_impl(x, ww), [y3, w, bias], g3)
    c.close("weighted_bias_swiglu_impl 3-D fwd", out3, direct_gated(direct_silu_glu, y, w).view(2, 3, h))
    c.close("weighted_bias_swiglu_impl 3-D dinput", gy3, direct_grads(direct_silu_glu, y, g, w)[0].view(2, 3, 2 * h))


def check_fp8_store(ref, c, y, g, w, bias):
    """fp8 input store: forward at full precision; backward (and dweights) at the E4M3 copy of the clamped input,
    the clamp's mask taken from the full-precision input."""
    h = g.shape[-1]
    y_clamped = direct_gated(lambda a, b, o: torch.cat((a, b), -1), y, clamp=GPT_OSS_CLAMP)
    y8 = y_clamped.to(torch.float8_e4m3fn).to(y.dtype)
    mask = torch.cat(((y[:, :h] <= GPT_OSS_CLAMP), (y[:, h:].abs() <= GPT_OSS_CLAMP)), -1).to(y.dtype)
    out, (gy, gw, gb) = through_autograd(
        lambda x, ww, b: ref.weighted_bias_quick_geglu_impl(x, b, ww, True, GPT_OSS_OFFSET, GPT_OSS_CLAMP),
        [y, w, bias], g)
    c.close("quick_geglu_impl fp8 fwd", out,
            direct_gated(direct_quick_glu, y, w, bias, GPT_OSS_OFFSET, GPT_OSS_CLAMP))
    ey8, ew8, eb8 = direct_grads(direct_quick_glu, y8, g, weights=w, bias=bias, offset=GPT_OSS_OFFSET)
    c.close("quick_geglu_impl fp8 dinput", gy, ey8 * mask)
    c.close("quick_geglu_impl fp8 dweights", gw, ew8)
    c.close("quick_geglu_impl fp8 dbias", gb, eb8)
    out, (gy, gw, _) = through_autograd(lambda x, ww, b: ref.weighted_bias_swiglu_impl(x, ww, True),
                                        [y, w, bias], g)
    y8 = y.to(torch.float8_e4m3fn).to(y.dtype)
    ey8, ew8, _ = direct_grads(direct_silu_glu, y8, g, weights=w)
    c.close("swiglu_impl fp8 fwd", out, direct_gated(direct_silu_glu, y, w))
    c.close("swiglu_impl fp8 dinput", gy, ey8)
    c.close("swiglu_impl fp8 dweights", gw, ew8)


def check_routing(ref, c, device, gen):
    t, hp, e = 7, 3, 4
    tokens = torch.randn(t, hp, generator=gen, dtype=torch.float64).to(device)
    routing_map = torch.zeros(t, e, dtype=torch.bool)
    for tok, experts in enumerate([[0, 2], [1, 2], [0, 1], [2, 0], [3, 2], [0, 3], [2, 1]]):
        routing_map[tok, experts] = True
    routing_map[:, 1] = False  # an expert that receives nothing
    probs = torch.rand(t, e, generator=gen, dtype=torch.float64) * routing_map
    routing_map, probs = routing_map.to(device), probs.to(device)

    # Dropless: expert-major, token-ascending rows.
    pairs = [(ex, tok) for ex in range(e) for tok in range(t) if routing_map[tok, ex]]
    want_idx = torch.tensor([tok for _, tok in pairs], dtype=torch.int64)
    want_rows = torch.stack([tokens[tok] for _, tok in pairs])
    want_probs = torch.stack([probs[tok, ex] for ex, tok in pairs])
    rows, pprobs, idx = ref.permute(tokens, routing_map, probs)
    c.equal("permute sorted_indices", idx, want_idx)
    c.close("permute rows", rows, want_rows)
    c.close("permute probs", pprobs, want_probs)

    # Drop-and-pad with capacity 2: routed ids ascending, padded with unrouted ids ascending, extras dropped.
    cap = 2
    want_dp = []
    for ex in range(e):
        routed = [tok for tok in range(t) if routing_map[tok, ex]]
        unrouted = [tok for tok in range(t) if not routing_map[tok, ex]]
        want_dp += (routed + unrouted)[:cap]
    rows_dp, probs_dp, idx_dp = ref.permute(tokens, routing_map, probs, num_out_tokens=cap * e, drop_and_pad=True)
    c.equal("permute drop_and_pad sorted_indices", idx_dp, torch.tensor(want_dp, dtype=torch.int64))
    c.close("permute drop_and_pad rows", rows_dp, tokens.cpu()[want_dp])
    c.close("permute drop_and_pad probs", probs_dp,
            torch.stack([probs[tok, i // cap] for i, tok in enumerate(want_dp)]))

    # Unpermute: out[t] = sum over t's rows of p * x, with and without probs.
    x = torch.randn(len(pairs), hp, generator=gen, dtype=torch.float64).to(device)
    want_plain = torch.zeros(t, hp, dtype=torch.float64)
    want_probs_out = torch.zeros(t, hp, dtype=torch.float64)
    for m, (ex, tok) in enumerate(pairs):
        want_plain[tok] += x[m].cpu()
        want_probs_out[tok] += probs[tok, ex].cpu() * x[m].cpu()
    c.close("unpermute", ref.unpermute(x, idx, (t, hp)), want_plain)
    c.close("unpermute probs", ref.unpermute(x, idx, (t, hp), probs, routing_map), want_probs_out)

    # Permute backward: each token's gradient sums its copies; probs get their slot's gradient where routed.
    leaf_tokens = tokens.clone().requires_grad_(True)
    leaf_probs = probs.clone().requires_grad_(True)
    rows, pprobs, _ = ref.permute(leaf_tokens, routing_map, leaf_probs)
    g_rows = torch.randn(rows.shape, generator=gen, dtype=torch.float64).to(device)
    g_probs = torch.randn(pprobs.shape, generator=gen, dtype=torch.float64).to(device)
    torch.autograd.backward([rows, pprobs], [g_rows, g_probs])
    want_dt = torch.zeros(t, hp, dtype=torch.float64)
    want_dp = torch.zeros(t, e, dtype=torch.float64)
    for m, (ex, tok) in enumerate(pairs):
        want_dt[tok] += g_rows[m].cpu()
        want_dp[tok, ex] = g_probs[m].cpu()
    c.close("permute dtokens", leaf_tokens.grad, want_dt)
    c.close("permute dprobs", leaf_probs.grad, want_dp)


def run_checks(device, forms):
    """Runs the checks for each form ("eager", "compile"); returns {form: [failures]}."""
    failures = {}
    for form in forms:
        c = check_reference(build_reference(compiled=(form == "compile")), device, f"{device}/{form}")
        status = "ok" if not c.failures else "FAILED"
        print(f"check {device}/{form}: {c.count - len(c.failures)}/{c.count} {status}", flush=True)
        for f in c.failures:
            print(f"  {f}", flush=True)
        failures[form] = c.failures
    return failures


# ---------------------------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------------------------

CALLS_PER_SAMPLE = 10


def time_us(fn, setup, warmup, repeats, calls=None):
    """Median over `repeats` samples of the CUDA-event time per call, each sample `calls` back-to-back calls
    between one pair of events (as the .NET bench times), so the device is measured and the host's launch gaps
    count only where they exceed the kernels' time. An untimed call before the start event keeps the GPU busy while
    the host prepares the first timed call, which otherwise counted once a sample. setup() runs before every call;
    it must be host-only (drop .grad)."""
    calls = calls or CALLS_PER_SAMPLE
    for _ in range(warmup):
        setup()
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        setup()
        fn()  # untimed: the GPU runs it while the host prepares the first timed call
        start.record()
        for _ in range(calls):
            setup()
            fn()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) * 1000.0 / calls)
    return statistics.median(samples)


def peak_mem_bytes(fn, setup):
    """(max_memory_allocated growth, driver free-memory growth). The second is measured as the .NET bench measures
    its own peak (PeakMemory.cs: cached segments released first, cuMemGetInfo before and after one step, the step's
    results still held), so the two sides compare like with like."""
    setup()
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    free_before = torch.cuda.mem_get_info()[0]
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    result = fn()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    reserved = max(0, free_before - torch.cuda.mem_get_info()[0])
    del result
    return peak, reserved


def copy_bandwidth_gbps(repeats):
    src = torch.empty(1 << 29, dtype=torch.bfloat16, device=DEVICE).normal_()  # 1 GiB
    dst = torch.empty_like(src)
    us = time_us(lambda: dst.copy_(src), lambda: None, 3, repeats)
    nbytes = 2 * src.numel() * src.element_size()  # read + write
    del src, dst
    torch.cuda.empty_cache()
    return nbytes / (us * 1e-6) / 1e9


def cases_for(ref, cfg, dtype):
    """Yields (name, op, shape, bytes, setup, fn) for one model and dtype; its tensors are made once, here."""
    dev = DEVICE
    r, h = cfg["rows"], cfg["hidden"]
    e = torch.tensor([], dtype=dtype).element_size()
    gen = torch.Generator(device=dev).manual_seed(0)
    y = torch.randn(r, 2 * h, device=dev, dtype=dtype, generator=gen)
    g = torch.randn(r, h, device=dev, dtype=dtype, generator=gen)
    w = torch.rand(r, 1, device=dev, dtype=torch.float32, generator=gen)
    bias = torch.randn(2 * h, device=dev, dtype=dtype, generator=gen) * 0.1
    gate = torch.randn(r, h, device=dev, dtype=dtype, generator=gen)
    shape = [r, 2 * h]

    fwd_b = r * 2 * h * e + r * h * e                    # read y, write out
    bwd_b = r * h * e + r * 2 * h * e + r * 2 * h * e    # read grad and y, write dy
    wt, bs = r * 4, 2 * h * e                            # weights (or their gradient), bias (or its gradient)
    off = GPT_OSS_OFFSET
    nothing = lambda: None
    plain = [
        ("swiglu", "fwd", fwd_b, lambda: ref.swiglu(y)),
        ("swiglu_back", "bwd", bwd_b, lambda: ref.swiglu_back(g, y)),
        ("weighted_swiglu", "fwd", fwd_b + wt, lambda: ref.weighted_swiglu(y, w)),
        ("weighted_swiglu_back", "bwd", bwd_b + 2 * wt, lambda: ref.weighted_swiglu_back(g, y, w)),
        ("quick_geglu", "fwd", fwd_b, lambda: ref.quick_geglu(y, off)),
        ("quick_geglu_back", "bwd", bwd_b, lambda: ref.quick_geglu_back(g, y, off)),
        ("weighted_quick_geglu", "fwd", fwd_b + wt, lambda: ref.weighted_quick_geglu(y, w, off)),
        ("weighted_quick_geglu_back", "bwd", bwd_b + 2 * wt, lambda: ref.weighted_quick_geglu_back(g, y, w, off)),
        ("weighted_bias_quick_geglu", "fwd", fwd_b + wt + bs, lambda: ref.weighted_bias_quick_geglu(y, bias, w, off)),
        ("weighted_bias_quick_geglu_back", "bwd", bwd_b + 2 * wt + bs,
         lambda: ref.weighted_bias_quick_geglu_back(g, y, bias, w, off)),
        ("geglu", "fwd", fwd_b, lambda: ref.geglu(y)),
        ("geglu_back", "bwd", bwd_b, lambda: ref.geglu_back(g, y)),
        ("weighted_geglu", "fwd", fwd_b + wt, lambda: ref.weighted_geglu(y, w)),
        ("weighted_geglu_back", "bwd", bwd_b + 2 * wt, lambda: ref.weighted_geglu_back(g, y, w)),
    ]
    yield "quick_gelu", "fwd", [r, h], 2 * r * h * e, nothing, lambda: ref.quick_gelu(gate)
    for name, op, nbytes, fn in plain:
        yield name, op, shape, nbytes, nothing, fn

    # Forward + backward through the autograd entry points. "as in a real layer" the input is a non-leaf (a view
    # of the leaf, which adds no kernel); the leaf case is reported beside it.
    y_leaf = y.detach().clone().requires_grad_(True)
    w_leaf = w.detach().clone().requires_grad_(True)
    b_leaf = bias.detach().clone().requires_grad_(True)

    def clear_grads():
        y_leaf.grad = w_leaf.grad = b_leaf.grad = None

    def fwd_bwd(call, leaf_input):
        def step():
            x = y_leaf if leaf_input else y_leaf.view(y_leaf.shape)
            call(x).backward(g)
        return step

    fp8_delta = r * 2 * h * 1 + r * 2 * h * 1 - r * 2 * h * e  # write E4M3 copy, read it instead of y
    impls = [
        ("weighted_bias_swiglu_impl", lambda x: ref.weighted_bias_swiglu_impl(x, w_leaf), 0, [False, True]),
        ("weighted_bias_swiglu_impl fp8_input_store", lambda x: ref.weighted_bias_swiglu_impl(x, w_leaf, True),
         fp8_delta, [False]),
        ("weighted_bias_quick_geglu_impl bias clamp=7 offset=1",
         lambda x: ref.weighted_bias_quick_geglu_impl(x, b_leaf, w_leaf, False, GPT_OSS_OFFSET, GPT_OSS_CLAMP),
         3 * bs, [False, True]),
        ("weighted_bias_quick_geglu_impl bias clamp=7 offset=1 fp8_input_store",
         lambda x: ref.weighted_bias_quick_geglu_impl(x, b_leaf, w_leaf, True, GPT_OSS_OFFSET, GPT_OSS_CLAMP),
         3 * bs + fp8_delta, [False]),
        ("weighted_bias_geglu_impl", lambda x: ref.weighted_bias_geglu_impl(x, w_leaf), 0, [False]),
    ]
    for name, call, extra, leaf_cases in impls:
        for leaf_input in leaf_cases:
            op = "fwd+bwd leaf" if leaf_input else "fwd+bwd"
            yield name, op, shape, fwd_b + wt + bwd_b + 2 * wt + extra, clear_grads, fwd_bwd(call, leaf_input)

    yield from routing_cases(ref, cfg, dtype, e)


def routing_cases(ref, cfg, dtype, e):
    """Top-k routing of T = rows / topk tokens of the model dimension: permute with probs, as the dispatcher
    calls it, and unpermute without them (the probs are applied in the activation), plus with them."""
    dev = DEVICE
    k, n_exp, p = cfg["topk"], cfg["experts"], cfg["permute_hidden"]
    t = cfg["rows"] // k
    gen = torch.Generator(device=dev).manual_seed(1)
    logits = torch.randn(t, n_exp, device=dev, generator=gen)
    top_vals, top_idx = logits.softmax(-1).topk(k, dim=-1)
    routing_map = torch.zeros(t, n_exp, dtype=torch.bool, device=dev).scatter_(1, top_idx, True)
    probs = torch.zeros(t, n_exp, dtype=torch.float32, device=dev).scatter_(1, top_idx, top_vals)
    tokens = torch.randn(t, p, device=dev, dtype=dtype, generator=gen)
    n = t * k
    shape = [t, p]

    permute_fwd = t * p * e + t * n_exp * (1 + 4) + n * p * e + n * (8 + 4)
    permute_bwd = n * p * e + n * (8 + 4) + t * p * e + t * n_exp * 4
    yield "permute", "fwd", shape, permute_fwd, lambda: None, lambda: ref.permute(tokens, routing_map, probs)

    tok_leaf = tokens.detach().clone().requires_grad_(True)
    probs_leaf = probs.detach().clone().requires_grad_(True)
    g_rows = torch.randn(n, p, device=dev, dtype=dtype, generator=gen)
    g_probs = torch.randn(n, device=dev, dtype=torch.float32, generator=gen)

    def clear_permute():
        tok_leaf.grad = probs_leaf.grad = None

    def permute_step():
        rows, pprobs, _ = ref.permute(tok_leaf.view(tok_leaf.shape), routing_map, probs_leaf)
        torch.autograd.backward([rows, pprobs], [g_rows, g_probs])
    yield "permute", "fwd+bwd", shape, permute_fwd + permute_bwd, clear_permute, permute_step

    _, _, sorted_indices = ref.permute(tokens, routing_map, probs)
    permuted = torch.randn(n, p, device=dev, dtype=dtype, generator=gen)
    unpermute_fwd = n * p * e + n * 8 + t * p * e
    unpermute_bwd = t * p * e + n * 8 + n * p * e
    yield "unpermute", "fwd", [n, p], unpermute_fwd, lambda: None, \
        lambda: ref.unpermute(permuted, sorted_indices, (t, p))
    yield "unpermute probs", "fwd", [n, p], unpermute_fwd + t * n_exp * 5, lambda: None, \
        lambda: ref.unpermute(permuted, sorted_indices, (t, p), probs, routing_map)

    perm_leaf = permuted.detach().clone().requires_grad_(True)
    g_out = torch.randn(t, p, device=dev, dtype=dtype, generator=gen)

    def clear_unpermute():
        perm_leaf.grad = None

    def unpermute_step():
        ref.unpermute(perm_leaf.view(perm_leaf.shape), sorted_indices, (t, p)).backward(g_out)
    yield "unpermute", "fwd+bwd", [n, p], unpermute_fwd + unpermute_bwd, clear_unpermute, unpermute_step


def measure(entry, fn, setup, warmup, repeats, copy_gbps):
    """Fills entry's us, gbps, pct_copy and peak_mem_bytes, or its error: one failing case (out of memory, a
    compile error) must not lose the others."""
    try:
        us = time_us(fn, setup, warmup, repeats)
        peak, reserved = peak_mem_bytes(fn, setup)
    except Exception as exc:
        entry["error"] = f"{type(exc).__name__}: {exc}"[:500]
        print(f"{entry['model']} {entry['dtype']} {entry['impl']} {entry['op']} {entry['name']}: {entry['error']}",
              flush=True)
        return
    gbps = entry["bytes"] / (us * 1e-6) / 1e9
    entry.update(us=round(us, 1), gbps=round(gbps, 1), pct_copy=round(100 * gbps / copy_gbps, 1),
                 peak_mem_bytes=peak, peak_reserved_bytes=reserved)
    print(f"{entry['model']:13} {entry['dtype']:4} {entry['impl']:7} {entry['op']:12} {entry['name']:62} "
          f"{us:9.1f} us {gbps:6.0f} GB/s {entry['pct_copy']:5.1f} % peak {peak / 2**20:7.0f} MiB", flush=True)


def benchmark(args):
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: use --smoke for the CPU checks")
    started = time.time()
    models = [m for m in args.models.split(",") if m]
    dtypes = [d for d in args.dtypes.split(",") if d]
    for m in models:
        if m not in MODELS:
            sys.exit(f"--models: unknown model '{m}' (known: {', '.join(MODELS)})")
    for d in dtypes:
        if d not in DTYPES:
            sys.exit(f"--dtypes: unknown dtype '{d}' (known: {', '.join(DTYPES)})")

    # Failed checks are recorded in the report and make the exit status 1, but both forms are still timed: the
    # lead's GPU time is scarce, and the failures name the functions whose numbers not to trust.
    check_failures = run_checks(DEVICE, ["compile", "eager"])
    torch._dynamo.reset()  # the checks' tiny shapes must not shape the compiled kernels timed below
    # Past dynamo's recompile limit (8 per function) a function silently runs eagerly; shapes, dtypes and
    # requires_grad variants here need more, and the compile timings must be compiled code.
    for limit in ("recompile_limit", "cache_size_limit"):
        if hasattr(torch._dynamo.config, limit):
            setattr(torch._dynamo.config, limit, 64)

    warmup, repeats = (2, 5) if args.quick else (3, 10)
    copy_gbps = copy_bandwidth_gbps(repeats)
    print(f"device copy bandwidth: {copy_gbps:.0f} GB/s", flush=True)
    report = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "copy_gbps": round(copy_gbps, 1),
        "settings": {"warmup": warmup, "repeats": repeats, "quick": args.quick, "static": args.static,
                     "compile": "each helper under plain torch.compile; " + (
                         "dynamo reset before each model and dtype (static shapes)" if args.static else
                         "default automatic dynamic shapes (a second shape recompiles with dynamic sizes)")},
        "byte_model": BYTE_MODEL,
        "peak_mem_model": PEAK_MEM_MODEL,
        "check_failures": check_failures,
        "results": [],
    }
    refs = {form: build_reference(compiled=(form == "compile")) for form in ("compile", "eager")}
    # bf16 first for every model, so that a run stopped by --max-seconds keeps the numbers that matter most.
    blocks = [(dtype_name, model) for dtype_name in dtypes for model in models]
    for i, (dtype_name, model) in enumerate(blocks):
        if time.time() - started > args.max_seconds:
            report["skipped_for_time"] = [f"{m} {d}" for d, m in blocks[i:]]
            print(f"--max-seconds {args.max_seconds} reached: skipped {report['skipped_for_time']}", flush=True)
            break
        if args.static:
            torch._dynamo.reset()
        for impl, ref in refs.items():
            try:  # making a block's tensors can fail too (out of memory): report it, go on with the next block
                for name, op, shape, nbytes, setup, fn in cases_for(ref, MODELS[model], DTYPES[dtype_name]):
                    variant, case = case_of(name, op)
                    entry = {"name": name, "impl": impl, "model": model, "shape": shape, "dtype": dtype_name,
                             "op": op, "variant": variant, "case": case, "us": None, "bytes": nbytes, "gbps": None,
                             "pct_copy": None, "peak_mem_bytes": None}
                    measure(entry, fn, setup, warmup, repeats, copy_gbps)
                    report["results"].append(entry)
            except Exception as exc:
                report.setdefault("block_errors", []).append(
                    f"{model} {dtype_name} {impl}: {type(exc).__name__}: {exc}"[:500])
                print(f"{model} {dtype_name} {impl}: block failed: {report['block_errors'][-1]}", flush=True)
            torch.cuda.empty_cache()
        write_report(args.out, report)
    report["elapsed_s"] = round(time.time() - started, 1)
    write_report(args.out, report)
    print(f"wrote {args.out} ({len(report['results'])} results, {report['elapsed_s']} s)", flush=True)
    if any(check_failures.values()):
        sys.exit("some peers disagree with the direct formulas: see check_failures in the report")


def write_report(path, report):
    with open(path + ".tmp", "w") as f:
        json.dump(report, f, indent=1)
    os.replace(path + ".tmp", path)  # a reader never sees a half-written file


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", help="JSON results file (required unless --smoke)")
    parser.add_argument("--smoke", action="store_true", help="CPU checks of the maths on tiny shapes, no timing")
    parser.add_argument("--smoke-compile", action="store_true",
                        help="with --smoke, check the torch.compile form too (CPU Inductor needs a C++ compiler)")
    parser.add_argument("--quick", action="store_true", help="bf16 only, fewer repeats")
    parser.add_argument("--static", action="store_true", help="reset dynamo per model and dtype (static shapes)")
    parser.add_argument("--max-seconds", type=float, default=330,
                        help="start no new model and dtype after this many seconds (default 330)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of: " + ", ".join(MODELS))
    parser.add_argument("--dtypes", default=None, help="comma-separated subset of: bf16, fp32")
    args = parser.parse_args()
    if args.smoke:
        forms = ["eager"] + (["compile"] if args.smoke_compile else [])
        sys.exit(0 if not any(run_checks("cpu", forms).values()) else 1)
    if not args.out:
        parser.error("the JSON output path is required")
    if args.dtypes is None:
        args.dtypes = "bf16" if args.quick else "bf16,fp32"
    benchmark(args)


if __name__ == "__main__":
    main()
