// Shared by the measurement harnesses: error check, CUDA-event timing (3 warm-up launches, then 15 samples of 10
// back-to-back launches; the median per-launch time in µs) and the bf16 test data.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <algorithm>
#include <cuda_runtime.h>
#define CK(x) do { cudaError_t e = (x); if (e) { printf("ERR %s %s\n", #x, cudaGetErrorString(e)); exit(1);} } while (0)
static float median(std::vector<float> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; }
template <typename F> float time_us(F f) {
  cudaEvent_t a, b; cudaEventCreate(&a); cudaEventCreate(&b);
  for (int i = 0; i < 3; i++) f();
  std::vector<float> s;
  for (int r = 0; r < 15; r++) { cudaEventRecord(a); for (int i = 0; i < 10; i++) f(); cudaEventRecord(b); cudaEventSynchronize(b); float ms; cudaEventElapsedTime(&ms, a, b); s.push_back(ms * 100.f); }
  CK(cudaGetLastError());
  return median(s);
}
// Uniform values in [-4, 4) as bf16 bits, from a fixed LCG (the same data every run).
static std::vector<unsigned short> random_bf16(long long count) {
  std::vector<unsigned short> v(count); unsigned s = 1;
  for (auto& x : v) { s = s * 1664525u + 1013904223u; float f = ((s >> 8) * (1.f / 16777216.f) - 0.5f) * 8.f; unsigned u; memcpy(&u, &f, 4); x = (unsigned short)(u >> 16); }
  return v;
}
