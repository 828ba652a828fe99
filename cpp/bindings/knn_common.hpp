// Argument helpers shared by the similarity and KNN bindings.
#pragma once
#include <string>

#include "common.hpp"
#include "crossrec/similarity.hpp"

namespace crossrec::bind {

inline SimOptions sim_options(const std::string& kind, double shrink, int min_support) {
  SimOptions o;
  if (kind == "cosine")
    o.kind = SimKind::cosine;
  else if (kind == "cosine_corated")
    o.kind = SimKind::cosine_corated;
  else if (kind == "pearson")
    o.kind = SimKind::pearson;
  else if (kind == "pearson_baseline")
    o.kind = SimKind::pearson_baseline;
  else if (kind == "msd")
    o.kind = SimKind::msd;
  else if (kind == "jaccard")
    o.kind = SimKind::jaccard;
  else
    fail("kind: must be one of cosine, cosine_corated, pearson, pearson_baseline, msd, jaccard; got '" + kind + "'");
  require(std::isfinite(shrink) && shrink >= 0.0, "shrink: must be a finite number >= 0");
  require(min_support >= 0, "min_support: must be >= 0, got " + std::to_string(min_support));
  o.shrink = shrink;
  o.min_support = min_support;
  return o;
}

}  // namespace crossrec::bind
