// ember: the accounts module's bodies that EMBER_SEPARATE_COMPILATION leaves out of every other
// translation unit; Meson's dependency('ember-accounts') compiles them once (libember-accounts).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/modules/accounts/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/modules/accounts/impl/accounts.hpp"
#include "ember/modules/accounts/impl/attempt_limiter.hpp"
#include "ember/modules/accounts/impl/options.hpp"
#include "ember/modules/accounts/impl/password_hasher.hpp"
#include "ember/modules/accounts/impl/service.hpp"

// The registration of the module's commands that every program calls (extern in its header).
template void ember_accounts::register_commands<0>(ember::net::dispatch_table&,
                                              ember_accounts::accounts_handler&);
