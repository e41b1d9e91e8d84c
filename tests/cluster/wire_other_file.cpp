// The second file of the cluster wire test (test_wire.cpp): it uses ember's cluster messages
// too, so that header-only ember's definitions of their codecs must link from two files.
#include "ember/cluster/detail/cluster_wire.hpp"

namespace msg = ember::cluster::detail::msg;

ember::buffer encoded_in_the_other_file(const msg::players& p) {
  return ember::cluster::detail::encoded(p);
}

bool decodes_in_the_other_file(ember::bytes_view body, msg::session_op& out) {
  return ember::cluster::detail::decode(body, out);
}
