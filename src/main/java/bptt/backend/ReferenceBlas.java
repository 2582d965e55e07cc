// ReferenceBlas: column-major sgemm written exactly as the reference-BLAS definition states it.
package bptt.backend;

/**
 * The reference-BLAS SGEMM (netlib), in Java: C := alpha*op(A)*op(B) + beta*C, column-major,
 * element (i,j) of a matrix X with leading dimension ldx at {@code x[off + i + j*ldx]}.
 * Used to check every call that {@link GemmPlan} hands to cuBLAS, CLBlast or OpenBLAS.
 */
public final class ReferenceBlas {
    private ReferenceBlas() { }

    public static void sgemm(char transa, char transb, int m, int n, int k, float alpha,
                             float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float beta, float[] c, int cOff, int ldc) {
        boolean nota = transa == 'N' || transa == 'n';
        boolean notb = transb == 'N' || transb == 'n';
        int nrowa = nota ? m : k;
        int nrowb = notb ? k : n;
        int info = 0;
        if (!nota && transa != 'T' && transa != 't' && transa != 'C' && transa != 'c') {
            info = 1;
        } else if (!notb && transb != 'T' && transb != 't' && transb != 'C' && transb != 'c') {
            info = 2;
        } else if (m < 0) {
            info = 3;
        } else if (n < 0) {
            info = 4;
        } else if (k < 0) {
            info = 5;
        } else if (lda < Math.max(1, nrowa)) {
            info = 8;
        } else if (ldb < Math.max(1, nrowb)) {
            info = 10;
        } else if (ldc < Math.max(1, m)) {
            info = 13;
        }
        if (info != 0) {
            throw new IllegalArgumentException("SGEMM parameter " + info + " is invalid");
        }
        if (m == 0 || n == 0 || ((alpha == 0f || k == 0) && beta == 1f)) {
            return;
        }
        if (alpha == 0f) {
            for (int j = 0; j < n; j++) {
                for (int i = 0; i < m; i++) {
                    int ci = cOff + i + j * ldc;
                    c[ci] = beta == 0f ? 0f : beta * c[ci];
                }
            }
            return;
        }
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++) {
                float temp = 0f;
                for (int l = 0; l < k; l++) {
                    float ail = nota ? a[aOff + i + l * lda] : a[aOff + l + i * lda];
                    float blj = notb ? b[bOff + l + j * ldb] : b[bOff + j + l * ldb];
                    temp += ail * blj;
                }
                int ci = cOff + i + j * ldc;
                c[ci] = beta == 0f ? alpha * temp : alpha * temp + beta * c[ci];
            }
        }
    }
}
