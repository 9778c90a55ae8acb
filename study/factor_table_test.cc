#include "study/factor_table.h"

#include <vector>

#include "gtest/gtest.h"

namespace diffmem {
namespace study {
namespace {

TEST(FactorTableTest, CsvAndJson) {
  EmmSearchOptions o;
  o.n_min = 10;
  o.n_max = 640;
  o.n_start = 20;
  o.granularity = 10;
  o.max_runs = 6;
  std::vector<EmmFactorRow> rows(2);
  rows[0] = {"resolution", "8", "study/resolution=8", SummarizeEmmSearch(o, {{20, 1, 1, 1}, {40, 0.5, 0, 1}}), 2, 12.5};
  rows[1] = {"resolution", "16", "study/resolution=16", SummarizeEmmSearch(o, {{20, 0.2, 0, 1}, {10, 0.1, 0, 1}}), 2, 3};
  EXPECT_EQ(EmmFactorTableToCsv(rows),
            "factor,value,emm,n_lo,n_hi,interpolated,status,runs,wall_seconds\n"
            "resolution,8,20,20,40,23.0,searching,2,12.5\n"
            "resolution,16,,,10,,memorizes_nowhere,2,3.0\n");
  const nlohmann::json j = EmmFactorTableToJson(rows, o);
  EXPECT_EQ(j["rows"][0]["emm"], 20);
  EXPECT_TRUE(j["rows"][1]["emm"].is_null());
  EXPECT_EQ(j["rows"][1]["value"], "16");
}

}  // namespace
}  // namespace study
}  // namespace diffmem
