// BatchingTest: vocabulary order and PyTorch word-language-model batching (batchify + get_batch).
package bptt.train;

import bptt.backend.Backend;
import bptt.backend.ref.CpuRefBackend;
import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.rnn.Window;
import bptt.rnn.Workspace;
import org.junit.jupiter.api.Test;

import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class BatchingTest {

    @Test
    void vocabularyIsTheDistinctCodePointsInAscendingOrder() {
        Vocabulary v = Vocabulary.of("banana é😀a");
        assertEquals(" abné😀", v.characters());
        assertArrayEquals(new int[]{2, 1, 3, 1}, v.encode("bana"));
        assertEquals("😀é", v.decode(new int[]{5, 4}));
        assertEquals(v.characters(), Vocabulary.fromCharacters(v.characters()).characters());
        assertThrows(IllegalArgumentException.class, () -> v.encode("z"));
    }

    /** 26 tokens, B = 3: streams of 8 ([0,8), [8,16), [16,24)), tokens 24 and 25 dropped, like batchify. */
    @Test
    void streamsAndWindowsFollowBatchifyAndGetBatch() {
        int[] tokens = IntStream.range(0, 26).toArray();
        TokenStreams s = new TokenStreams(tokens, 3);
        assertEquals(8, s.streamLength());
        int seqLen = 3;
        assertEquals(3, s.windows(seqLen), "ceil((8 - 1) / 3)");
        try (Backend be = CpuRefBackend.float32(); Rnn rnn = new Rnn(be, RnnConfig.charModel(26, 2, 1));
             Workspace ws = rnn.workspace(3, seqLen)) {
            Window w = ws.window();
            s.fill(0, seqLen, w);   // positions 0..2 of each stream, row t*B + b
            assertArrayEquals(new int[]{0, 8, 16, 1, 9, 17, 2, 10, 18}, tokens(w));
            assertArrayEquals(new int[]{1, 9, 17, 2, 10, 18, 3, 11, 19}, targets(w));
            assertEquals(9, w.targetCount());

            s.fill(1, seqLen, w);
            assertArrayEquals(new int[]{3, 11, 19, 4, 12, 20, 5, 13, 21}, tokens(w));

            s.fill(2, seqLen, w);   // get_batch's short last window: only position 6 -> 7 is left
            assertArrayEquals(new int[]{6, 14, 22, 0, 0, 0, 0, 0, 0}, tokens(w));
            assertArrayEquals(new int[]{7, 15, 23, -1, -1, -1, -1, -1, -1}, targets(w));
            assertEquals(3, w.targetCount(), "the rows without a target are not counted");
        }
    }

    private static int[] tokens(Window w) { return IntStream.range(0, w.rows()).map(w::token).toArray(); }

    private static int[] targets(Window w) { return IntStream.range(0, w.rows()).map(w::target).toArray(); }

    @Test
    void tooLittleDataIsAClearError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TokenStreams(new int[5], 4));
        assertEquals(true, e.getMessage().contains("smaller --batch"));
    }
}
