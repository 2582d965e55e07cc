// BatchingTest: vocabulary order and PyTorch word-language-model batching (batchify + get_batch).
package bptt.train;

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
        float[] in = new float[9];
        float[] tgt = new float[9];

        s.fill(0, seqLen, in, tgt);   // positions 0..2 of each stream, row t*B + b
        assertArrayEquals(new float[]{0, 8, 16, 1, 9, 17, 2, 10, 18}, in);
        assertArrayEquals(new float[]{1, 9, 17, 2, 10, 18, 3, 11, 19}, tgt);

        s.fill(1, seqLen, in, tgt);
        assertArrayEquals(new float[]{3, 11, 19, 4, 12, 20, 5, 13, 21}, in);

        s.fill(2, seqLen, in, tgt);   // get_batch's short last window: only position 6 -> 7 is left
        assertArrayEquals(new float[]{6, 14, 22, 0, 0, 0, 0, 0, 0}, in);
        assertArrayEquals(new float[]{7, 15, 23, -1, -1, -1, -1, -1, -1}, tgt);
    }

    @Test
    void tooLittleDataIsAClearError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TokenStreams(new int[5], 4));
        assertEquals(true, e.getMessage().contains("smaller --batch"));
    }
}
