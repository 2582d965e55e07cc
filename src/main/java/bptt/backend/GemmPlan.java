// GemmPlan: maps a row-major C = op(A)·op(B) onto one column-major BLAS sgemm call.
package bptt.backend;

import bptt.tensor.Tensor;

/**
 * The one place that turns the engine's row-major GEMM into the column-major contract shared by
 * reference BLAS, OpenBLAS, cuBLAS and CLBlast:
 * {@code sgemm(transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)}.
 *
 * <p>A row-major matrix is its own transpose read column-major, so row-major C = op(A)·op(B)
 * runs as column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: the operands swap, m and n swap, each flag stays with
 * its operand, and every leading dimension is the row stride of the matrix as stored.
 */
public final class GemmPlan {
    private GemmPlan() { }

    /**
     * One column-major sgemm call. {@code a}, {@code b} and {@code c} are the tensors whose
     * memory and offset the pointers A, B, C denote (a is the engine's B operand, b its A).
     */
    public record Call(boolean transa, boolean transb, int m, int n, int k, float alpha,
                       Tensor a, int lda, Tensor b, int ldb, float beta, Tensor c, int ldc) {

        /** 'N' or 'T', as BLAS spells the flags. */
        public char transaChar() { return transa ? 'T' : 'N'; }

        public char transbChar() { return transb ? 'T' : 'N'; }

        @Override
        public String toString() {
            return "sgemm(" + transaChar() + "," + transbChar() + ", m=" + m + ", n=" + n + ", k=" + k
                    + ", alpha=" + alpha + ", A@" + a.offset() + ", lda=" + lda + ", B@" + b.offset() + ", ldb=" + ldb
                    + ", beta=" + beta + ", C@" + c.offset() + ", ldc=" + ldc + ")";
        }
    }

    /** The column-major call computing row-major C = alpha·op(A)·op(B) + beta·C (shapes already checked). */
    public static Call plan(boolean transA, Tensor a, boolean transB, Tensor b, float alpha, float beta, Tensor c) {
        int m = c.rows();                        // rows of op(A) and of C
        int n = c.cols();                        // cols of op(B) and of C
        int k = transA ? a.rows() : a.cols();    // the shared inner dimension
        return new Call(transB, transA, n, m, k, alpha, b, b.ld(), a, a.ld(), beta, c, c.ld());
    }
}
