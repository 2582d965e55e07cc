/* prelude_cuda.h: the CUDA C++ side of the kernel macros; prepended to bptt_kernels.cl.cu
 * by the CUDA backend before NVRTC (and by CI before nvcc). extern "C" keeps the kernel
 * names unmangled so cuModuleGetFunction finds them by their snake_case names. */
#define KERNEL extern "C" __global__
#define GLOBAL
#define RESTRICT __restrict__
/* Index of this thread in a 1-D grid of 1-D blocks. */
#define GLOBAL_ID() ((int) (blockIdx.x * blockDim.x + threadIdx.x))
#define TANHF(x) tanhf(x)
#define EXPF(x) expf(x)
#define LOGF(x) logf(x)
#define SQRTF(x) sqrtf(x)
#define FMAXF(a, b) fmaxf((a), (b))
#define NAN_F (__int_as_float(0x7fc00000))
#define INFINITY_F (__int_as_float(0x7f800000))
