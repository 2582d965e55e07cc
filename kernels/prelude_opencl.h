/* prelude_opencl.h: the OpenCL C side of the kernel macros; prepended to bptt_kernels.cl.cu
 * by the OpenCL backend before clBuildProgram. OpenCL C 1.2, float32 only (no cl_khr_fp64,
 * no atomics). */
#define KERNEL __kernel
#define GLOBAL __global
#define RESTRICT restrict
/* Index of this work-item in a 1-D NDRange. */
#define GLOBAL_ID() ((int) get_global_id(0))
#define TANHF(x) tanh(x)
#define EXPF(x) exp(x)
#define LOGF(x) log(x)
#define SQRTF(x) sqrt(x)
#define FMAXF(a, b) fmax((a), (b))
#define NAN_F (NAN)
#define INFINITY_F (INFINITY)
