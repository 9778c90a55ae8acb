// mem_ratio: the memorization ratio of generated images against a training
// set (tools/mem_ratio_main.h has the details).
//
//   bazel run //tools:mem_ratio -- --samples=/tmp/optimum --out=/tmp/optimum_ratio   # vs 1000 balanced Fashion-MNIST
//   bazel run //tools:mem_ratio -- --samples=run/samples --data=zip:/data/cifar2k.zip --n=0 --out=run/ratio
//   bazel run //tools:mem_ratio -- --samples=S --data=idx:imgs.gz,labels.gz --n=0 --metric=l1 --out=R

#include "memorization/distance.h"
#include "tools/mem_ratio_main.h"

int main(int argc, char** argv) {
  return diffmem::tools::MemRatioMain<diffmem::memorization::DistanceMetrics>(argc, argv);
}
