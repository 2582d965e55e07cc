// CublasSgemmArgs: the exact argument list the cuda backend hands to cublasSgemm, built by one pure method.
package bptt.backend.cuda;

import bptt.backend.GemmPlan;
import bptt.tensor.Tensor;

import static jcuda.jcublas.cublasOperation.CUBLAS_OP_N;
import static jcuda.jcublas.cublasOperation.CUBLAS_OP_T;

/**
 * One {@code cublasSgemm(handle, transa, transb, m, n, k, &alpha, A, lda, B, ldb, &beta, C, ldc)}
 * call, minus the handle. The pointers are given as (allocation, element offset): the device
 * pointer is the allocation's base plus {@code offset * 4} bytes. {@link CudaBackend} passes these
 * fields verbatim, and the tests execute the same record with the reference sgemm on the host.
 *
 * @param transa  CUBLAS_OP_N (0) or CUBLAS_OP_T (1)
 * @param transb  CUBLAS_OP_N (0) or CUBLAS_OP_T (1)
 * @param a       the tensor whose allocation holds column-major A (the engine's B operand)
 * @param aOffset element offset of A in that allocation
 */
public record CublasSgemmArgs(int transa, int transb, int m, int n, int k, float alpha,
                              Tensor a, long aOffset, int lda, Tensor b, long bOffset, int ldb,
                              float beta, Tensor c, long cOffset, int ldc) {

    /** The cuBLAS form of one column-major plan: flags become cublasOperation_t, nothing else changes. */
    public static CublasSgemmArgs of(GemmPlan.Call call) {
        return new CublasSgemmArgs(op(call.transa()), op(call.transb()), call.m(), call.n(), call.k(), call.alpha(),
                call.a(), call.a().offset(), call.lda(), call.b(), call.b().offset(), call.ldb(),
                call.beta(), call.c(), call.c().offset(), call.ldc());
    }

    /** Row-major C = alpha·op(A)·op(B) + beta·C as the cublasSgemm call the backend makes (shapes checked). */
    public static CublasSgemmArgs forGemm(boolean transA, Tensor a, boolean transB, Tensor b, float alpha, float beta,
                                          Tensor c) {
        return of(GemmPlan.plan(transA, a, transB, b, alpha, beta, c));
    }

    private static int op(boolean transpose) { return transpose ? CUBLAS_OP_T : CUBLAS_OP_N; }

    /** 'N' or 'T' for a cublasOperation_t, as reference BLAS spells it. */
    public static char blasChar(int op) {
        return switch (op) {
            case CUBLAS_OP_N -> 'N';
            case CUBLAS_OP_T -> 'T';
            default -> throw new IllegalArgumentException("not a cublasOperation_t used here: " + op);
        };
    }

    @Override
    public String toString() {
        return "cublasSgemm(" + blasChar(transa) + "," + blasChar(transb) + ", m=" + m + ", n=" + n + ", k=" + k
                + ", alpha=" + alpha + ", A@" + aOffset + ", lda=" + lda + ", B@" + bOffset + ", ldb=" + ldb
                + ", beta=" + beta + ", C@" + cOffset + ", ldc=" + ldc + ")";
    }
}
