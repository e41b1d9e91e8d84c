// ember: the mail module's bodies that EMBER_SEPARATE_COMPILATION leaves out of every other
// translation unit; Meson's dependency('ember-mail') compiles them once (libember-mail).
#pragma once

#if !defined(EMBER_SEPARATE_COMPILATION)
#error "ember/modules/mail/impl/src.hpp is for EMBER_SEPARATE_COMPILATION: define it for every file of the program"
#endif

#include "ember/modules/mail/impl/mail.hpp"

// The registration of the module's commands that every program calls (extern in its header).
template void ember_mail::register_commands<0>(ember::net::dispatch_table&,
                                              ember_mail::mail_handler&);
