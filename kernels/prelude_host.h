/* prelude_host.h: the host C11 side of the kernel macros; prepended to bptt_kernels.cl.cu
 * for bptt's emulated CUDA driver (src/test/native), which runs the very kernel bodies on the
 * CPU. A launch is run by one host thread that calls the kernel once per thread of every block,
 * in order, after setting the three index variables below. That is valid only for kernels
 * without barriers, shared memory or cross-thread operations; the emulator refuses any kernel
 * that uses them, by name, instead of running it wrong. Every macro of prelude_cuda.h and
 * prelude_opencl.h must be defined here too (a test checks the three define the same names). */
#include <math.h>
typedef struct { unsigned x, y, z; } bptt_host_dim3;
/* CUDA's blockIdx, blockDim and threadIdx: unsigned, so index arithmetic wraps as on a GPU. */
static bptt_host_dim3 bptt_host_block_idx, bptt_host_block_dim, bptt_host_thread_idx;
#define KERNEL static
#define GLOBAL
#define RESTRICT restrict
/* Index of this thread in a 1-D grid of 1-D blocks. */
#define GLOBAL_ID() ((int) (bptt_host_block_idx.x * bptt_host_block_dim.x + bptt_host_thread_idx.x))
#define TANHF(x) tanhf(x)
#define EXPF(x) expf(x)
#define LOGF(x) logf(x)
#define SQRTF(x) sqrtf(x)
#define FMAXF(a, b) fmaxf((a), (b))
#define NAN_F (__builtin_nanf(""))
#define INFINITY_F (__builtin_inff())
