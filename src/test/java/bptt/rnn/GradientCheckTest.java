// GradientCheckTest: BPTT on cpu-ref matches finite differences; wrong GEMM orders are caught.
package bptt.rnn;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GradientCheckTest {

    @ParameterizedTest(name = "tokens={0} V/D={1} H={2} L={3} B={4} T={5}")
    @CsvSource({
            "true, 7, 5, 1, 3, 6",
            "true, 3, 4, 2, 1, 9",
            "true, 11, 3, 3, 2, 4",
            "false, 4, 5, 1, 3, 5",
            "false, 6, 3, 2, 2, 7",
    })
    void everyGradientMatchesFiniteDifferences(boolean tokens, int inputSize, int hidden, int layers, int batch, int seqLen) {
        int vocab = tokens ? inputSize : 5;
        RnnConfig config = new RnnConfig(inputSize, tokens, hidden, layers, vocab);
        List<GradientCheck.Row> rows = new GradientCheck(config, batch, seqLen, 42).run();
        assertEquals(3 * layers + 2 + layers, rows.size(), "one row per parameter and per layer's h0");
        for (GradientCheck.Row row : rows) {
            assertTrue(row.passed(), row.name() + " max rel error " + row.maxRelError());
        }
    }

    @Test
    void wrongOrdersOfTheSquareWeightGradientsFail() {
        RnnConfig dense = new RnnConfig(4, false, 4, 1, 5);
        List<GradientCheck.Row> rows = new GradientCheck(dense, 3, 5, 7).explain();
        assertEquals(4, rows.size());
        for (GradientCheck.Row row : rows) {
            boolean wrong = row.formula().contains("wrong");
            assertEquals(!wrong, row.passed(), row.name() + " " + row.formula() + " error " + row.maxRelError());
            if (wrong) {
                assertTrue(row.maxRelError() > 0.1, "the transpose is far from the true gradient: " + row.maxRelError());
            }
        }
    }

    @Test
    void relativeErrorTreatsTwoZerosAsEqualAndFlagsSignErrors() {
        assertEquals(0, GradientCheck.relError(0, 0));
        assertEquals(2, GradientCheck.relError(1e-3, -1e-3), 1e-12);
        assertFalse(GradientCheck.relError(1.0, 1.0 + 1e-5) < GradientCheck.TOLERANCE);
    }

    @Test
    void theListenerHearsOfEveryCheckedValueInOrder() {
        RnnConfig config = RnnConfig.charModel(4, 3, 2);
        long expected = new ParameterLayout(config).total() + 2L * 2 * 3;  // every parameter and each layer's h0 (B=2, H=3)
        long[] seen = {0, 0};
        new GradientCheck(config, 2, 3, 5).run((done, total) -> {
            assertEquals(seen[0] + 1, done, "one call per value, in order");
            seen[0] = done;
            seen[1] = total;
        });
        assertEquals(expected, seen[0]);
        assertEquals(expected, seen[1]);
    }
}
