// LossCurveTest: the SVG is well-formed XML with the training polyline, validation points, axes and legend.
package bptt.train;

import bptt.train.LossCurve.Point;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LossCurveTest {
    @TempDir
    Path dir;

    private static Document parse(Path file) throws Exception {
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(true);
        return factory.newDocumentBuilder().parse(file.toFile());
    }

    private static Element byClass(Document doc, String tag, String cls) {
        NodeList list = doc.getElementsByTagName(tag);
        for (int i = 0; i < list.getLength(); i++) {
            Element e = (Element) list.item(i);
            if (e.getAttribute("class").equals(cls)) {
                return e;
            }
        }
        return null;
    }

    @Test
    void writesWellFormedSvgWithCurvesAxesAndLegend() throws Exception {
        List<Point> train = new ArrayList<>();
        for (int step = 1; step <= 5000; step++) {
            train.add(new Point(step, 4.2 * Math.exp(-step / 800.0) + 1.4));
        }
        train.add(new Point(5001, Double.NaN));
        List<Point> validation = List.of(new Point(1000, 2.9), new Point(2000, 2.1), new Point(3000, Double.POSITIVE_INFINITY),
                new Point(5000, 1.6));
        Path file = dir.resolve("loss.svg");
        LossCurve.write(file, "tinyshakespeare <2 layers> & H=128", train, validation);

        Document doc = parse(file);
        Element root = doc.getDocumentElement();
        assertEquals("svg", root.getLocalName());
        assertEquals("http://www.w3.org/2000/svg", root.getNamespaceURI());
        Element trainLine = byClass(doc, "polyline", "train");
        assertTrue(trainLine != null, "training polyline present");
        String[] pts = trainLine.getAttribute("points").trim().split(" ");
        assertEquals(LineChart.MAX_POINTS, pts.length, "long curves are averaged down");
        for (String p : pts) {
            String[] xy = p.split(",");
            double x = Double.parseDouble(xy[0]);
            double y = Double.parseDouble(xy[1]);
            assertTrue(x >= 0 && x <= 800 && y >= 0 && y <= 480, "inside the picture: " + p);
        }
        assertTrue(byClass(doc, "polyline", "validation") != null, "validation polyline present");
        assertEquals(3, doc.getElementsByTagName("circle").getLength(), "one dot per finite validation loss");
        String text = root.getTextContent();
        assertTrue(text.contains("tinyshakespeare <2 layers> & H=128"), "title, escaped and read back");
        assertTrue(text.contains("step") && text.contains("loss (nats)"), "axis labels");
        assertTrue(text.contains("training loss") && text.contains("validation loss"), "legend");
        assertTrue(text.contains("2000") && text.contains("4000"), "x ticks at round steps");
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList(), "written atomically, no temporary file left");
        }
    }

    @Test
    void emptyAndSinglePointCurvesAreStillValid() throws Exception {
        Path empty = dir.resolve("empty.svg");
        LossCurve.write(empty, "nothing yet", List.of(), List.of());
        assertTrue(parse(empty).getDocumentElement().getTextContent().contains("no measurements yet"));

        Path one = dir.resolve("one.svg");
        LossCurve.write(one, "one", List.of(new Point(7, 2.5)), List.of());
        Element line = byClass(parse(one), "polyline", "train");
        assertTrue(line != null && line.getAttribute("points").split(" ").length == 1);
    }

    @Test
    void ticksAreRoundNumbersInsideTheRange() {
        assertEquals(List.of(0.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0), LineChart.ticks(0, 5000));
        assertEquals(List.of(0.0, 2000.0, 4000.0, 6000.0), LineChart.ticks(0, 7000));
        assertEquals(List.of(1.5, 2.0, 2.5, 3.0, 3.5, 4.0), LineChart.ticks(1.3, 4.1));
    }
}
