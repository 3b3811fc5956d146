//! `cluster`: making targets — kind clusters whose nodes run CRI-O, and the
//! OpenShift MachineConfigs for the annotation path. Rendering is pure;
//! running goes through [`tools`].

pub mod kind;
pub mod openshift;
pub mod tools;
