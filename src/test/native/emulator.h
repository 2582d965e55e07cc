/* emulator.h: what bptt's emulated CUDA driver (libcuda.so.1), its emulated cuBLAS
 * (libcublas.so.12) and the generated host kernel table (host_kernels.c) share.
 *
 * The emulator stands in for NVIDIA's libraries under the real JCuda natives, so that every
 * JCuda call of the cuda backend runs in CI without a GPU. Device memory is host memory
 * (a device pointer is the host address); every stream is a queue of recorded work items that
 * runs only when the host waits for it, or is recorded into a graph while the stream is being
 * captured; kernels are the kernels/ bodies compiled for the host (prelude_host.h). The numeric
 * values below are the CUDA 12 ABI (cuda.h, cublas_api.h). */
#ifndef BPTT_CUDA_EMULATOR_H
#define BPTT_CUDA_EMULATOR_H

#include <stddef.h>
#include <stdint.h>

typedef int CUresult;
typedef int CUdevice;
typedef uint64_t CUdeviceptr;
typedef struct emu_ctx *CUcontext;
typedef struct emu_stream *CUstream;
typedef struct emu_event *CUevent;
typedef struct emu_module *CUmodule;
typedef const struct emu_function *CUfunction;

enum {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
    CUDA_ERROR_INVALID_PTX = 218,
    CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_ILLEGAL_STATE = 401,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_NOT_READY = 600,
    CUDA_ERROR_ILLEGAL_ADDRESS = 700,
    CUDA_ERROR_NOT_SUPPORTED = 801,
    CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900,
    CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901,
    CUDA_ERROR_STREAM_CAPTURE_IMPLICIT = 906,
    CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD = 908,
    CUDA_ERROR_UNKNOWN = 999
};

/* One kernel argument, copied out of cuLaunchKernel's kernelParams when the launch is queued. */
typedef union { void *p; int i; float f; } emu_arg;

typedef struct { unsigned x, y, z; } emu_dim3;

/* One kernel of kernels/, compiled for the host; generated from the source by HostKernels.java. */
typedef struct {
    const char *name;
    const char *signature;   /* one letter per C parameter: p pointer, i int, f float */
    void (*run)(emu_dim3 grid, emu_dim3 block, const emu_arg *args);   /* NULL when refused */
    const char *refused;     /* why one host thread cannot run it (barriers, shared memory), or NULL */
} emu_kernel;

extern const emu_kernel emu_kernels[];
extern const int emu_kernel_count;

/* ---- the driver's services for the emulated cuBLAS (exported by libcuda.so.1) ---------------- */

/* Work the emulated cuBLAS queues on a stream: returns CUDA_SUCCESS, or an error described in
 * why (which makes the context's error sticky, as a faulting GPU kernel does). */
typedef CUresult (*emu_host_work)(void *data, char *why, size_t why_size);

/* The current context of this thread (NULL if none) and its generation, which changes when the
 * primary context is destroyed (its last retain released) and created again. */
CUcontext bptt_emu_current_context(unsigned *generation);
/* Whether ctx still is the context of that generation. */
int bptt_emu_context_alive(CUcontext ctx, unsigned generation);
/* Whether stream is NULL (the legacy stream) or a live stream of ctx. */
int bptt_emu_stream_of(CUcontext ctx, CUstream stream);
/* Queues work on stream (run later, when the host waits), or records it into the graph the stream is
 * capturing; data (data_size bytes, taken over by the emulator) is freed with free() once the work
 * item is gone. A graph keeps its own copy of data for every launch. */
CUresult bptt_emu_enqueue_host(CUcontext ctx, CUstream stream, const char *what, emu_host_work work, void *data,
                               size_t data_size);
/* Runs everything queued in ctx (what cuCtxSynchronize does); returns the sticky error, if any. */
CUresult bptt_emu_synchronize(CUcontext ctx);
/* The bytes [p, p + bytes) lie inside one live allocation: 1, else 0 and a description in why. */
int bptt_emu_check_range(CUdeviceptr p, uint64_t bytes, char *why, size_t why_size);
/* Writes a line to stderr, prefixed "bptt CUDA emulator: ". */
void bptt_emu_log(const char *format, ...) __attribute__((format(printf, 1, 2)));

#endif
