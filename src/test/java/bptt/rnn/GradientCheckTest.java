// GradientCheckTest: BPTT on cpu-ref matches finite differences; wrong GEMM orders are caught.
package bptt.rnn;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GradientCheckTest {

    @ParameterizedTest(name = "{0} tokens={1} V/D={2} H={3} L={4} B={5} T={6}")
    @CsvSource({
            "tanh, true, 7, 5, 1, 3, 6",
            "tanh, true, 3, 4, 2, 1, 9",
            "tanh, true, 11, 3, 3, 2, 4",
            "tanh, false, 4, 5, 1, 3, 5",
            "tanh, false, 6, 3, 2, 2, 7",
            "lstm, true, 7, 5, 2, 3, 6",
            "lstm, false, 4, 3, 1, 2, 7",
            "lstm, true, 3, 4, 3, 1, 5",
            "gru, true, 7, 5, 2, 3, 6",
            "gru, false, 4, 3, 1, 2, 7",
            "gru, false, 5, 2, 2, 3, 4",
    })
    void everyGradientMatchesFiniteDifferences(String cellName, boolean tokens, int inputSize, int hidden, int layers,
                                               int batch, int seqLen) {
        Cell cell = Cell.parse(cellName);
        int vocab = tokens ? inputSize : 5;
        RnnConfig config = new RnnConfig(inputSize, tokens, hidden, layers, vocab, cell);
        List<GradientCheck.Row> rows = new GradientCheck(config, batch, seqLen, 42).run();
        int perLayer = cell == Cell.TANH ? 3 : 4 * cell.gates();   // Wax, Waa, ba (, bh), gate by gate
        int states = cell.hasCellState() ? 2 : 1;                    // h0 (, c0)
        assertEquals(perLayer * layers + 2 + states * layers, rows.size(), "one row per parameter (gate) and initial state");
        for (GradientCheck.Row row : rows) {
            assertTrue(row.passed(), row.name() + " max rel error " + row.maxRelError());
        }
    }

    /** The regression loss (MSE) and the per-sequence outputs back-propagate exactly too, for every cell. */
    @ParameterizedTest(name = "{0} {1} tokens={2} D={3} H={4} L={5} B={6} T={7}")
    @CsvSource({
            "tanh, VALUES, false, 4, 5, 2, 3, 6",
            "lstm, VALUES, false, 3, 4, 1, 2, 5",
            "gru, VALUES, true, 5, 3, 1, 3, 4",
            "tanh, SEQUENCE_CLASS, true, 6, 4, 2, 3, 5",
            "lstm, SEQUENCE_CLASS, false, 3, 4, 1, 2, 6",
            "gru, SEQUENCE_CLASS, false, 4, 3, 2, 3, 4",
            "tanh, SEQUENCE_VALUES, false, 3, 4, 1, 3, 5",
            "lstm, SEQUENCE_VALUES, true, 5, 3, 2, 2, 4",
            "gru, SEQUENCE_VALUES, false, 4, 4, 1, 2, 6",
    })
    void everyOutputKindsGradientsMatchFiniteDifferences(String cellName, OutputKind output, boolean tokens, int inputSize,
                                                         int hidden, int layers, int batch, int seqLen) {
        RnnConfig config = new RnnConfig(inputSize, tokens, hidden, layers, 3, Cell.parse(cellName), output);
        for (GradientCheck.Row row : new GradientCheck(config, batch, seqLen, 17).run()) {
            assertTrue(row.passed(), output + " " + row.name() + " max rel error " + row.maxRelError());
        }
    }

    /** Each gate's rows name the gate and its own formula. */
    @Test
    void gateRowsNameTheirGate() {
        List<GradientCheck.Row> rows = new GradientCheck(RnnConfig.charModel(Cell.GRU, 4, 3, 1), 2, 3, 1).run();
        assertEquals(List.of("Wax0[r]", "Wax0[z]", "Wax0[n]", "Waa0[r]", "Waa0[z]", "Waa0[n]"),
                rows.subList(0, 6).stream().map(GradientCheck.Row::name).toList());
        assertTrue(rows.get(5).formula().contains("r⊙dn"), rows.get(5).formula());
        assertEquals("(3,3)", rows.get(5).shape());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tanh", "lstm", "gru"})
    void wrongOrdersOfTheSquareWeightGradientsFail(String cellName) {
        Cell cell = Cell.parse(cellName);
        RnnConfig dense = new RnnConfig(4, false, 4, 1, 5, cell);
        List<GradientCheck.Row> rows = new GradientCheck(dense, 3, 5, 7).explain();
        assertEquals(4 * cell.gates(), rows.size());
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
        assertFalse(GradientCheck.relError(1e-7, -1e-7) < GradientCheck.TOLERANCE, "a wrong sign fails below the floor too");
        assertTrue(GradientCheck.relError(1.0764e-7, 1.0764e-7 + 3e-13) < GradientCheck.TOLERANCE,
                "round-off of the finite difference on a tiny gradient passes");
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
