// AddingTaskTest: the adding task's metric: a prediction within 0.04 of the exact sum, and its chance level.
package bptt.train;

import bptt.backend.Backend;
import bptt.backend.ref.CpuRefBackend;
import bptt.rnn.Rnn;
import bptt.rnn.Window;
import bptt.rnn.Workspace;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * On generated windows: the target class always counts as right, a class two away never does,
 * a neighbour exactly when it is within 0.04 of the sum; always answering 1.00 (class 20) is
 * right as often as {@link AddingTask#chanceAccuracy} says, within four standard deviations.
 */
class AddingTaskTest {
    private static final int BATCH = 64;
    private static final int T = 20;
    private static final int WINDOWS = 100;

    @Test
    void aPredictionCountsWhenItsValueIsWithinTheToleranceOfTheSum() {
        AddingTask task = new AddingTask(BATCH, T, 3);
        long scored = 0;
        long alwaysOne = 0;
        long neighbours = 0;
        try (Backend be = CpuRefBackend.float32(); Rnn rnn = new Rnn(be, task.model(4, 1));
             Workspace ws = rnn.workspace(BATCH, T)) {
            Window window = ws.window();
            for (int w = 0; w < WINDOWS; w++) {
                task.fill(0, w, window);
                for (int b = 0; b < BATCH; b++) {
                    int row = (T - 1) * BATCH + b;
                    int target = window.target(row);
                    assertTrue(task.correct(window, row, target), "the nearest class always counts");
                    assertFalse(task.correct(window, row, target + 2), "two classes away never counts");
                    assertFalse(task.correct(window, row, target - 2), "two classes away never counts");
                    neighbours += task.correct(window, row, target + 1) || task.correct(window, row, target - 1) ? 1 : 0;
                    alwaysOne += task.correct(window, row, 20) ? 1 : 0;
                    scored++;
                }
            }
        }
        double chance = task.chanceAccuracy();
        double sd = Math.sqrt(chance * (1 - chance) / scored);
        assertEquals(chance, (double) alwaysOne / scored, 4 * sd, "always answering 1.00");
        // A neighbour counts when the sum lies more than 0.01 from its class's centre towards it: 60% of sums.
        double share = (double) neighbours / scored;
        assertEquals(0.6, share, 4 * Math.sqrt(0.24 / scored), "sums for which a neighbouring class counts");
    }
}
