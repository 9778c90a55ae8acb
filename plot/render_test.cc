#include "plot/render.h"

#include <cairo/cairo.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace diffmem {
namespace plot {
namespace {

// A decoded PNG (through cairo's own reader, independent of the writer's path).
struct Image {
  int width = 0, height = 0;
  std::vector<uint32_t> rgb;  // 0x00RRGGBB
  int R(int x, int y) const { return (rgb[y * width + x] >> 16) & 255; }
  int G(int x, int y) const { return (rgb[y * width + x] >> 8) & 255; }
  int B(int x, int y) const { return rgb[y * width + x] & 255; }
  bool White(int x, int y) const { return R(x, y) == 255 && G(x, y) == 255 && B(x, y) == 255; }
  // Colour distance (max over channels) to `c`.
  int Distance(int x, int y, const PlotColor& c) const {
    return std::max({std::abs(R(x, y) - static_cast<int>(std::lround(c.r * 255))),
                     std::abs(G(x, y) - static_cast<int>(std::lround(c.g * 255))),
                     std::abs(B(x, y) - static_cast<int>(std::lround(c.b * 255)))});
  }
  // Any pixel within `r` of (x, y) close to `c`?
  bool Near(double x, double y, const PlotColor& c, int r = 2, int tolerance = 40) const {
    for (int dy = -r; dy <= r; ++dy) {
      for (int dx = -r; dx <= r; ++dx) {
        const int px = static_cast<int>(std::lround(x)) + dx, py = static_cast<int>(std::lround(y)) + dy;
        if (px >= 0 && py >= 0 && px < width && py < height && Distance(px, py, c) <= tolerance) return true;
      }
    }
    return false;
  }
};

struct Reader {
  const std::string* bytes;
  size_t at = 0;
};

cairo_status_t ReadChunk(void* closure, unsigned char* data, unsigned int length) {
  Reader* r = static_cast<Reader*>(closure);
  if (r->at + length > r->bytes->size()) return CAIRO_STATUS_READ_ERROR;
  std::copy(r->bytes->data() + r->at, r->bytes->data() + r->at + length, data);
  r->at += length;
  return CAIRO_STATUS_SUCCESS;
}

Image Decode(const std::string& png) {
  Reader reader{&png};
  cairo_surface_t* s = cairo_image_surface_create_from_png_stream(ReadChunk, &reader);
  Image img;
  EXPECT_EQ(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
  if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS) {
    img.width = cairo_image_surface_get_width(s);
    img.height = cairo_image_surface_get_height(s);
    const int stride = cairo_image_surface_get_stride(s);
    const unsigned char* data = cairo_image_surface_get_data(s);
    for (int y = 0; y < img.height; ++y) {
      const uint32_t* row = reinterpret_cast<const uint32_t*>(data + y * stride);
      for (int x = 0; x < img.width; ++x) img.rgb.push_back(row[x] & 0xFFFFFF);
    }
  }
  cairo_surface_destroy(s);
  return img;
}

absl::StatusOr<std::string> PngOf(const LinePlot& p) { return RenderLinePlot(p, PlotFormat::kPng); }

LinePlot RatioPlot() {
  LinePlot p;
  p.title = "Memorization ratio vs N";
  p.x_label = "training set size N";
  p.y_label = "memorization ratio";
  p.log_x = true;
  p.y_min = 0;
  p.y_max = 1.05;
  p.width = 800;
  p.height = 420;
  PlotSeries trained{"trained model", {{16, 0.98}, {32, 0.95}, {64, 0.6}, {128, 0.1}, {256, 0.0}}, kPlotBlue};
  trained.y_error = {{0.95, 1.0}, {0.9, 0.98}, {0.5, 0.7}, {0.05, 0.17}, {0.0, 0.03}};
  p.series.push_back(trained);
  p.series.push_back({"theoretical optimum", {{16, 1.0}, {32, 1.0}, {64, 0.99}, {128, 1.0}, {256, 0.98}},
                      kPlotGreen, true, true, true});
  p.hlines.push_back({0.9, "1 - epsilon", kPlotGray, true});
  p.highlights.push_back({32, 0.95, "EMM = 32", kPlotVermillion});
  return p;
}

TEST(RenderTest, WritesAPngOfTheRequestedSize) {
  absl::StatusOr<std::string> png = PngOf(RatioPlot());
  // Kept for a person to look at: bazel-testlogs/plot/render_test/test.outputs/.
  if (const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR")) {
    EXPECT_TRUE(WriteLinePlot(std::string(dir) + "/ratio_vs_n.png", RatioPlot()).ok());
  }
  ASSERT_TRUE(png.ok()) << png.status();
  ASSERT_GT(png->size(), 8u);
  EXPECT_EQ(png->substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  const Image img = Decode(*png);
  EXPECT_EQ(img.width, 800);
  EXPECT_EQ(img.height, 420);
}

TEST(RenderTest, CurvesLandWhereTheLayoutPutsThem) {
  const LinePlot p = RatioPlot();
  const PlotLayout L(p);
  const Image img = Decode(*PngOf(p));
  // Log axis: the geometric mean of two N lies halfway between them.
  EXPECT_NEAR(L.PixelX(std::sqrt(16.0 * 256.0)), (L.PixelX(16) + L.PixelX(256)) / 2, 1e-9);
  EXPECT_NEAR(L.PixelY(0), L.bottom(), 1e-9);
  EXPECT_NEAR(L.PixelY(1.05), L.top(), 1e-9);
  // Points of the series and the midpoint of a steep segment (in log-x) carry its colour.
  for (const auto& [x, y] : p.series[0].points) {
    if (x == p.highlights[0].x) continue;  // under the EMM marker
    EXPECT_TRUE(img.Near(L.PixelX(x), L.PixelY(y), kPlotBlue)) << x;
  }
  const double mx = (L.PixelX(64) + L.PixelX(128)) / 2, my = (L.PixelY(0.6) + L.PixelY(0.1)) / 2;
  EXPECT_TRUE(img.Near(mx, my, kPlotBlue, 1));
  // The error bar's upper cap at N = 64 (0.7) is above the point.
  EXPECT_TRUE(img.Near(L.PixelX(64) + 3, L.PixelY(0.7), kPlotBlue, 1, 70));
  // The reference curve.
  EXPECT_TRUE(img.Near((L.PixelX(64) + L.PixelX(128)) / 2, L.PixelY(0.995), kPlotGreen, 3));
  // The 1 - epsilon line is dashed gray: some pixels on it are gray, some white.
  int gray = 0, white = 0;
  for (int x = static_cast<int>(L.left()) + 5; x < static_cast<int>(L.PixelX(200)); ++x) {
    const int y = static_cast<int>(std::lround(L.PixelY(0.9)));
    if (img.Distance(x, y, kPlotGray) < 40) ++gray;
    if (img.White(x, y) || img.Distance(x, y, {0.88, 0.88, 0.88}) < 10) ++white;
  }
  EXPECT_GT(gray, 30);
  EXPECT_GT(white, 10);
  // The EMM marker.
  EXPECT_LE(img.Distance(static_cast<int>(L.PixelX(32)), static_cast<int>(L.PixelY(0.95)) + 4, kPlotVermillion), 10);
  // Empty space (lower left, well away from every curve) stays white or grid.
  const int ex = static_cast<int>(L.PixelX(20)), ey = static_cast<int>(L.PixelY(0.3));
  EXPECT_TRUE(img.White(ex, ey) || img.Distance(ex, ey, {0.88, 0.88, 0.88}) < 10);
  // Text was drawn: the title band holds dark pixels.
  int dark = 0;
  for (int y = 10; y < 40; ++y) {
    for (int x = 0; x < img.width; ++x) dark += img.R(x, y) < 100;
  }
  EXPECT_GT(dark, 100);
}

// Adding an (unlabelled) series changes pixels only along that series.
TEST(RenderTest, PixelsDifferOnlyAlongTheAddedCurve) {
  LinePlot without = RatioPlot();
  LinePlot with = without;
  const PlotSeries extra{"", {{20, 0.3}, {200, 0.5}}, kPlotPurple, true, false, false};
  with.series.push_back(extra);
  const PlotLayout L(with);
  const Image a = Decode(*PngOf(without)), b = Decode(*PngOf(with));
  ASSERT_EQ(a.rgb.size(), b.rgb.size());
  const double x0 = L.PixelX(20), y0 = L.PixelY(0.3), x1 = L.PixelX(200), y1 = L.PixelY(0.5);
  int changed = 0;
  for (int y = 0; y < a.height; ++y) {
    for (int x = 0; x < a.width; ++x) {
      if (a.rgb[y * a.width + x] == b.rgb[y * b.width + x]) continue;
      ++changed;
      // Distance from the pixel centre to the segment.
      const double vx = x1 - x0, vy = y1 - y0;
      const double t = std::clamp(((x + 0.5 - x0) * vx + (y + 0.5 - y0) * vy) / (vx * vx + vy * vy), 0.0, 1.0);
      const double d = std::hypot(x + 0.5 - (x0 + t * vx), y + 0.5 - (y0 + t * vy));
      EXPECT_LE(d, 3.0) << "pixel (" << x << "," << y << ") changed far from the added curve";
    }
  }
  // A 2.5-px line across a few hundred pixels.
  EXPECT_GT(changed, 2 * std::hypot(x1 - x0, y1 - y0));
}

// Open markers: a white centre inside a ring of the series' colour, drawn over
// the filled marker below them.
TEST(RenderTest, HollowMarkersAreRingsOverWhatIsBelow) {
  LinePlot p = RatioPlot();
  PlotSeries open{"still rising", {{64, 0.6}}, kPlotBlue};
  open.line = false;
  open.hollow = true;
  p.series.push_back(open);
  const PlotLayout L(p);
  const Image img = Decode(*PngOf(p));
  const double x = L.PixelX(64), y = L.PixelY(0.6);
  EXPECT_TRUE(img.White(static_cast<int>(std::lround(x)), static_cast<int>(std::lround(y))));
  EXPECT_TRUE(img.Near(x + 5.5, y, kPlotBlue, 1));
  EXPECT_TRUE(img.Near(x, y - 5.5, kPlotBlue, 1));
  // Without it, the same spot is the filled blue marker.
  const Image filled = Decode(*PngOf(RatioPlot()));
  EXPECT_LE(filled.Distance(static_cast<int>(std::lround(x)), static_cast<int>(std::lround(y)), kPlotBlue), 40);
}

TEST(RenderTest, RejectsBadInput) {
  LinePlot p = RatioPlot();
  p.width = 10;
  EXPECT_FALSE(PngOf(p).ok());
  p = RatioPlot();
  p.series[0].y_error.pop_back();
  EXPECT_FALSE(PngOf(p).ok());
  EXPECT_FALSE(WriteLinePlot("/nonexistent-dir/x.png", RatioPlot()).ok());
  absl::Status ext = WriteLinePlot(::testing::TempDir() + "/plot.jpg", RatioPlot());
  EXPECT_EQ(ext.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(ext.message()).find("plot.jpg: unknown plot file extension 'jpg' (expected one of: png, svg, pdf)"),
            std::string::npos)
      << ext;
  EXPECT_FALSE(util::FileExists(::testing::TempDir() + "/plot.jpg"));
}

// The vector formats carry the same drawing: an SVG document of the plot's
// size with its paths and glyphs, and a one-page PDF with the plot's media box.
TEST(RenderTest, SvgAndPdfAreVectorDocumentsOfThePlotsSize) {
  const LinePlot p = RatioPlot();
  absl::StatusOr<std::string> svg = RenderLinePlot(p, PlotFormat::kSvg);
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_EQ(svg->rfind("<?xml", 0), 0u);
  EXPECT_NE(svg->find(absl::StrCat("width=\"", p.width, "pt\" height=\"", p.height, "pt\"")), std::string::npos)
      << svg->substr(0, 300);
  size_t paths = 0;
  for (size_t at = svg->find("<path"); at != std::string::npos; at = svg->find("<path", at + 1)) ++paths;
  // Grid lines, error bars, two series, rules, highlight, frame, legend, glyphs.
  EXPECT_GT(paths, 30u);
  absl::StatusOr<std::string> pdf = RenderLinePlot(p, PlotFormat::kPdf);
  ASSERT_TRUE(pdf.ok()) << pdf.status();
  EXPECT_EQ(pdf->rfind("%PDF-", 0), 0u);
  EXPECT_NE(pdf->find("%%EOF"), std::string::npos);
  EXPECT_NE(pdf->find(absl::StrCat("/MediaBox [ 0 0 ", p.width, " ", p.height, " ]")), std::string::npos);
  EXPECT_NE(pdf->find("/Count 1"), std::string::npos);
  // A different plot gives a different document.
  LinePlot q = p;
  q.series.pop_back();
  EXPECT_NE(*RenderLinePlot(q, PlotFormat::kSvg), *svg);
}

TEST(RenderTest, FiguresWritesAllThreeFormats) {
  const std::string base = ::testing::TempDir() + "/figure";
  ASSERT_TRUE(WriteLinePlotFigures(base, RatioPlot()).ok());
  EXPECT_EQ(*util::ReadFileToString(base + ".png"), *PngOf(RatioPlot()));
  EXPECT_EQ(util::ReadFileToString(base + ".svg")->rfind("<?xml", 0), 0u);
  EXPECT_EQ(util::ReadFileToString(base + ".pdf")->rfind("%PDF-", 0), 0u);
  if (const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR")) {
    EXPECT_TRUE(WriteLinePlotFigures(std::string(dir) + "/ratio_vs_n", RatioPlot()).ok());
  }
}

}  // namespace
}  // namespace plot
}  // namespace diffmem
