/* cublas.c: bptt's emulated cuBLAS (built as libcublas.so.12 by the test build).
 *
 * The calls the cuda backend makes through the real JCublas2 natives: create, destroy, set
 * stream, set workspace, math mode, version and sgemm. A handle belongs to the context current when it was
 * created; using it after that primary context was destroyed is an error, as it would be on a
 * GPU. sgemm checks its arguments as cuBLAS does (CUBLAS_STATUS_INVALID_VALUE), reads alpha and
 * beta at the call (host pointer mode, so a graph captures their values, as cuBLAS documents) and
 * queues the product on the handle's stream (or records it into the graph the stream is
 * capturing); when the work runs, the column-major extents of A, B and C given by m, n, k and the leading
 * dimensions must lie inside their allocations (else CUDA_ERROR_ILLEGAL_ADDRESS naming the
 * call), and C = alpha·op(A)·op(B) + beta·C is computed with the loops and summation order of
 * bptt.backend.ReferenceBlas. JCublas2 binds versioned symbols (cublasSgemm_v2@libcublas.so.12),
 * hence libcublas.map. */
#include "emulator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_INTERNAL_ERROR = 14
} cublasStatus_t;

enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 };
enum { HANDLE_MAGIC = 0x62707474, CUBLAS_VERSION = 120604, MATH_MODE_FLAGS = 16 };

typedef struct cublas_context {
    unsigned magic;
    CUcontext ctx;
    unsigned generation;
    CUstream stream;
    int math_mode;
    CUdeviceptr workspace;    /* set by cublasSetWorkspace (0: cuBLAS's own pool) */
    size_t workspace_bytes;
} *cublasHandle_t;

/* The handle's context must still be the one it was created in. */
static cublasStatus_t check_handle(cublasHandle_t h, const char *call) {
    if (h == NULL || h->magic != HANDLE_MAGIC) {
        bptt_emu_log("%s: not a cuBLAS handle", call);
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    if (!bptt_emu_context_alive(h->ctx, h->generation)) {
        bptt_emu_log("%s: the handle's CUDA context was destroyed (its primary context was released) after"
                     " cublasCreate; the handle is unusable", call);
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    return CUBLAS_STATUS_SUCCESS;
}

/* Starts a call on handle h: returns the error of a handle that is not (or no longer) usable. */
#define ENTER_HANDLE(h, call)                                                \
    do {                                                                     \
        cublasStatus_t entry_ = check_handle(h, call);                       \
        if (entry_ != CUBLAS_STATUS_SUCCESS) {                               \
            return entry_;                                                   \
        }                                                                    \
    } while (0)

EXPORT cublasStatus_t cublasCreate_v2(cublasHandle_t *out) {
    unsigned generation;
    CUcontext ctx = bptt_emu_current_context(&generation);
    if (out == NULL) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (ctx == NULL) {
        bptt_emu_log("cublasCreate: no CUDA context is current on this thread");
        return CUBLAS_STATUS_NOT_INITIALIZED;
    }
    cublasHandle_t h = calloc(1, sizeof *h);
    if (h == NULL) {
        return CUBLAS_STATUS_ALLOC_FAILED;
    }
    h->magic = HANDLE_MAGIC;
    h->ctx = ctx;
    h->generation = generation;
    *out = h;
    return CUBLAS_STATUS_SUCCESS;
}

/* Like cuBLAS, destroying a handle waits for the device. */
EXPORT cublasStatus_t cublasDestroy_v2(cublasHandle_t h) {
    cublasStatus_t status = check_handle(h, "cublasDestroy");
    if (status == CUBLAS_STATUS_SUCCESS && bptt_emu_synchronize(h->ctx) != CUDA_SUCCESS) {
        status = CUBLAS_STATUS_EXECUTION_FAILED;
    }
    if (h != NULL && h->magic == HANDLE_MAGIC) {
        h->magic = 0;
        free(h);
    }
    return status;
}

EXPORT cublasStatus_t cublasSetStream_v2(cublasHandle_t h, CUstream stream) {
    ENTER_HANDLE(h, "cublasSetStream");
    if (!bptt_emu_stream_of(h->ctx, stream)) {
        bptt_emu_log("cublasSetStream: the stream is not a stream of the handle's context");
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    h->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}

/* cuBLAS requires a workspace of device memory (or none: NULL and 0) aligned to 256 bytes. */
EXPORT cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t h, void *workspace, size_t bytes) {
    ENTER_HANDLE(h, "cublasSetWorkspace");
    char why[400];
    if ((workspace == NULL) != (bytes == 0) || ((uintptr_t) workspace & 255) != 0
        || (workspace != NULL && !bptt_emu_check_range((CUdeviceptr) (uintptr_t) workspace, bytes, why, sizeof why))) {
        bptt_emu_log("cublasSetWorkspace: %zu bytes at %p are not a 256-byte aligned range of one allocation",
                     bytes, workspace);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    h->workspace = (CUdeviceptr) (uintptr_t) workspace;
    h->workspace_bytes = bytes;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasSetMathMode(cublasHandle_t h, int mode) {
    ENTER_HANDLE(h, "cublasSetMathMode");
    if ((mode & ~MATH_MODE_FLAGS) < 0 || (mode & ~MATH_MODE_FLAGS) > 3) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    h->math_mode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasGetVersion_v2(cublasHandle_t h, int *version) {
    ENTER_HANDLE(h, "cublasGetVersion");
    *version = CUBLAS_VERSION;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT const char *cublasGetStatusName(cublasStatus_t status) {
    switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    default: return "CUBLAS_STATUS_INTERNAL_ERROR";
    }
}

EXPORT const char *cublasGetStatusString(cublasStatus_t status) { return cublasGetStatusName(status); }

/* One queued sgemm, with alpha and beta read at the call. */
typedef struct {
    int transa, transb, m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
} sgemm_call;

static int max1(int x) { return x > 1 ? x : 1; }

/* Bytes spanned by a column-major (rows, cols) matrix of leading dimension ld. */
static uint64_t span(int rows, int cols, int ld) { return ((uint64_t) (cols - 1) * ld + rows) * sizeof(float); }

static CUresult check_operand(const char *name, const void *p, int rows, int cols, int ld, char *why, size_t size) {
    char where[400];
    if (rows == 0 || cols == 0 || bptt_emu_check_range((CUdeviceptr) (uintptr_t) p, span(rows, cols, ld), where,
                                                       sizeof where)) {
        return CUDA_SUCCESS;
    }
    snprintf(why, size, "%s (%d x %d, ld %d) is outside its allocation: %s", name, rows, cols, ld, where);
    return CUDA_ERROR_ILLEGAL_ADDRESS;
}

/* C := alpha·op(A)·op(B) + beta·C, exactly as bptt.backend.ReferenceBlas.sgemm computes it. */
static CUresult run_sgemm(void *data, char *why, size_t size) {
    const sgemm_call *s = data;
    int nota = s->transa == CUBLAS_OP_N, notb = s->transb == CUBLAS_OP_N;
    int reads_ab = s->alpha != 0.0f && s->k > 0;
    CUresult r = check_operand("C", s->c, s->m, s->n, s->ldc, why, size);
    if (r == CUDA_SUCCESS && reads_ab) {
        r = check_operand("A", s->a, nota ? s->m : s->k, nota ? s->k : s->m, s->lda, why, size);
    }
    if (r == CUDA_SUCCESS && reads_ab) {
        r = check_operand("B", s->b, notb ? s->k : s->n, notb ? s->n : s->k, s->ldb, why, size);
    }
    if (r != CUDA_SUCCESS || s->m == 0 || s->n == 0 || (!reads_ab && s->beta == 1.0f)) {
        return r;
    }
    for (int j = 0; j < s->n; j++) {
        for (int i = 0; i < s->m; i++) {
            float *c = &s->c[i + (size_t) j * s->ldc];
            if (!reads_ab) {
                *c = s->beta == 0.0f ? 0.0f : s->beta * *c;
                continue;
            }
            float temp = 0.0f;
            for (int l = 0; l < s->k; l++) {
                float ail = nota ? s->a[i + (size_t) l * s->lda] : s->a[l + (size_t) i * s->lda];
                float blj = notb ? s->b[l + (size_t) j * s->ldb] : s->b[j + (size_t) l * s->ldb];
                temp += ail * blj;
            }
            *c = s->beta == 0.0f ? s->alpha * temp : s->alpha * temp + s->beta * *c;
        }
    }
    return CUDA_SUCCESS;
}

static int valid_op(int op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

EXPORT cublasStatus_t cublasSgemm_v2(cublasHandle_t h, int transa, int transb, int m, int n, int k,
                                     const float *alpha, const float *a, int lda, const float *b, int ldb,
                                     const float *beta, float *c, int ldc) {
    ENTER_HANDLE(h, "cublasSgemm");
    if (!valid_op(transa) || !valid_op(transb) || m < 0 || n < 0 || k < 0
        || lda < max1(transa == CUBLAS_OP_N ? m : k) || ldb < max1(transb == CUBLAS_OP_N ? k : n)
        || ldc < max1(m) || alpha == NULL || beta == NULL) {
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    sgemm_call *s = malloc(sizeof *s);
    if (s == NULL) {
        return CUBLAS_STATUS_ALLOC_FAILED;
    }
    *s = (sgemm_call) {transa, transb, m, n, k, lda, ldb, ldc, *alpha, *beta, a, b, c};
    char what[200];
    snprintf(what, sizeof what, "cublasSgemm_v2(%c,%c, m=%d, n=%d, k=%d, lda=%d, ldb=%d, ldc=%d)",
             transa == CUBLAS_OP_N ? 'N' : 'T', transb == CUBLAS_OP_N ? 'N' : 'T', m, n, k, lda, ldb, ldc);
    CUresult r = bptt_emu_enqueue_host(h->ctx, h->stream, what, run_sgemm, s, sizeof *s);
    return r == CUDA_SUCCESS ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}
