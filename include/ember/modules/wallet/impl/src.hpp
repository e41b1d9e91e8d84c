// ember: the wallet module's bodies that EMBER_SEPARATE_COMPILATION leaves out of every other
// translation unit; Meson's dependency('ember-wallet') compiles them once (libember-wallet).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/modules/wallet/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/modules/wallet/impl/wallet.hpp"

// The registration of the module's commands that every program calls (extern in its header).
template void ember_wallet::register_commands<0>(ember::net::dispatch_table&,
                                              ember_wallet::wallet_handler&);
